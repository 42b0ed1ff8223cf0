import { describe, expect, it } from 'vitest';
import type { IpcClient } from 'pollux';
import { transportMatrix, useBackends } from './support/backends.js';
import { useTestResources } from './support/test-resources.js';

describe.each(transportMatrix)('requestInto, server on $server, clients on $client, over $transport', (pair) => {
  const { connectTo, startServerOn } = useBackends(pair);

  const resources = useTestResources();

  async function echoClient(): Promise<IpcClient> {
    resources.running = await startServerOn(
      (server) =>
        server.addService({
          id: 1,
          name: 'echo',
          commands: { 1: (payload) => payload, 2: (payload) => Buffer.alloc(payload.readUInt32LE(0), 0xab) },
        }),
      { maxMessageSize: 1 << 20 },
    );
    const client = await connectTo(resources.running.address, 'echo', { maxMessageSize: 1 << 20 });
    resources.clients.push(client);
    return client;
  }

  it('copies each response into the caller’s buffer and resolves with its length, pipelined and in order', async () => {
    const c = await echoClient();
    const sizes = [0, 1, 64, 1025, 4096, 65_536, 300_000, 1 << 20];
    const buffers = sizes.map((size) => Buffer.alloc(size + 16, 0xee));
    const payloads = sizes.map((size, n) => Buffer.alloc(size, n + 1));
    const lengths = await Promise.all(sizes.map((_, n) => c.requestInto(1, payloads[n]!, buffers[n]!)));
    expect(lengths).toEqual(sizes);
    sizes.forEach((size, n) => {
      expect(buffers[n]!.subarray(0, size).equals(payloads[n]!)).toBe(true);
      // Past the response, the buffer is as it was.
      expect(buffers[n]!.subarray(size).equals(Buffer.alloc(16, 0xee))).toBe(true);
    });
  });

  it('rejects a response longer than the buffer with EMSGSIZE, leaves the buffer alone, and goes on', async () => {
    const c = await echoClient();
    const small = Buffer.alloc(100, 0x11);
    const asked = Buffer.alloc(4);
    asked.writeUInt32LE(5000);
    const tooLong = c.requestInto(2, asked, small);
    const next = c.requestInto(1, Buffer.from('next'), Buffer.alloc(10));
    await expect(tooLong).rejects.toMatchObject({ code: 'EMSGSIZE' });
    expect(small.equals(Buffer.alloc(100, 0x11))).toBe(true);
    // The long response was consumed: the next request gets its own answer, nothing is left pending.
    expect(await next).toBe(4);
    asked.writeUInt32LE(100);
    expect(await c.requestInto(2, asked, small)).toBe(100);
    expect(small.equals(Buffer.alloc(100, 0xab))).toBe(true);
    expect(c.pendingRequests).toBe(0);
    expect(c.stats.lateResponses).toBe(0);
  });

  it('refuses a buffer that is not a Uint8Array with EINVAL, sending nothing', async () => {
    const c = await echoClient();
    await expect(c.requestInto(1, Buffer.from('x'), 'not a buffer' as never)).rejects.toMatchObject({
      code: 'EINVAL',
    });
    expect(c.pendingRequests).toBe(0);
    expect(await c.requestInto(1, Buffer.from('x'), new Uint8Array(1))).toBe(1);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errnoCode, IpcError, type IpcClient } from 'pollux';
import { backendMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import type { TestServer } from './support/server.js';

const MiB = 1024 * 1024;

describe.each(backendMatrix)('server on $server, clients on $client', (pair) => {
  const { connectTo, startServerOn } = useBackends(pair);

  let fdsBefore: number;
  let running: TestServer | undefined;
  let clients: IpcClient[];

  beforeEach(() => {
    fdsBefore = openFdCount();
    clients = [];
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await running?.stop();
    running = undefined;
    expect(openFdCount()).toBe(fdsBefore);
  });

  async function connected(
    service: number | string,
    options: Parameters<typeof connectTo>[2] = {},
  ): Promise<IpcClient> {
    const client = await connectTo(running!.address, service, options);
    clients.push(client);
    return client;
  }

  it("sends only errno names: a handler's Node.js ERR_* error and an accept hook's stray code arrive as EREMOTEIO", async () => {
    running = await startServerOn((server) => {
      server.addService({
        id: 1,
        name: 'node-errors',
        exposeErrors: true,
        commands: {
          // Node.js throws a TypeError with code ERR_INVALID_ARG_TYPE.
          0: () => void Buffer.from(undefined as unknown as string),
          1: () => {
            throw new IpcError(errnoCode('EDQUOT'), 'quota exceeded: free some space');
          },
        },
      });
      server.addService({ id: 2, name: 'stray-code', accept: () => 'ERR_NOT_ALLOWED' as never, commands: {} });
    });
    const client = await connected('node-errors');
    const nodeError = await client.request(0).catch((error: unknown) => error);
    expect(nodeError).toBeInstanceOf(IpcError);
    expect(nodeError).toMatchObject({ code: 'EREMOTEIO', message: expect.stringContaining('argument') });
    await expect(client.request(1)).rejects.toMatchObject({
      code: 'EDQUOT',
      message: 'quota exceeded: free some space',
    });
    await expect(connected('stray-code')).rejects.toMatchObject({ code: 'EREMOTEIO' });
  });

  it('says what was given and what to pass instead for a bad service, command id, payload, timeout or signal', async () => {
    running = await startServerOn((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const client = await connected('echo');
    const refusal = (message: string): object => ({ code: 'EINVAL', message: expect.stringContaining(message) });
    await expect(client.request('0' as never)).rejects.toMatchObject(
      refusal('command id must be an integer in 0–65535, got the string "0": pass the number 0, not a string'),
    );
    await expect(client.request(1.5)).rejects.toMatchObject(refusal('got the number 1.5'));
    await expect(client.request(1, 'text' as never)).rejects.toMatchObject(
      refusal('got the string "text": encode it first, e.g. Buffer.from(text)'),
    );
    await expect(client.request(1, undefined, { timeout: '100' as never })).rejects.toMatchObject(
      refusal('timeout must be a number of ms in 1–2147483647, got the string "100": pass the number 100'),
    );
    await expect(client.request(1, undefined, { timeout: -1 })).rejects.toMatchObject(refusal('got the number -1'));
    await expect(client.request(1, undefined, { signal: {} as never })).rejects.toMatchObject(
      refusal('signal must be an AbortSignal, got an object'),
    );
    await expect(connected({} as never)).rejects.toMatchObject(
      refusal('service must be an integer id in 0–65535 or a name of 1–255 bytes, got an object'),
    );
    await expect(connected('1' as never, { timeout: '50' as never })).rejects.toMatchObject(
      refusal('pass the number 50, not a string'),
    );
    // Nothing bad reached the server: the connection still serves.
    expect((await client.request(1, Buffer.from('still here'))).toString()).toBe('still here');
  });

  it('lets a server send at most 1 MiB per message unless the client asks for more', async () => {
    running = await startServerOn(
      (server) =>
        server.addService({ id: 1, name: 'big', commands: { 0: (payload) => Buffer.alloc(payload.readUInt32LE(0)) } }),
      { maxMessageSize: 200 * MiB },
    );
    const size = (bytes: number): Buffer => Buffer.from(new Uint32Array([bytes]).buffer);
    const careful = await connected('big');
    expect(careful.maxMessageSize).toBe(MiB);
    await expect(careful.request(0, size(2 * MiB))).rejects.toMatchObject({ code: 'EMSGSIZE' });
    expect((await careful.request(0, size(MiB))).length).toBe(MiB);
    const asking = await connected('big', { maxMessageSize: 4 * MiB });
    expect((await asking.request(0, size(2 * MiB))).length).toBe(2 * MiB);
  });
});

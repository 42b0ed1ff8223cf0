import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IpcClient } from 'pollux';
import { transportMatrix, useBackends } from './support/backends.js';
import { openFdCount } from './support/fds.js';
import { patternPayload } from './support/payload.js';
import { isStopped, type Peer } from './support/peer.js';
import { scratchSocket, until, type ScratchSocket } from './support/server.js';

const CHUNK = 64 * 1024;
const HIGH_WATER = 256 * 1024;

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { connectTo, spawnFixture } = useBackends(pair);

  let fdsBefore: number;
  let socket: ScratchSocket;
  let server: Peer;

  beforeAll(async () => {
    socket = scratchSocket();
    server = spawnFixture('server', [socket.address]);
    await server.next('listening');
  });

  afterAll(async () => {
    server.child.kill('SIGKILL');
    await server.exited;
    socket.remove();
  });

  beforeEach(() => {
    fdsBefore = openFdCount();
  });

  afterEach(() => {
    expect(openFdCount()).toBe(fdsBefore);
  });

  /** Stops the server process, so nothing it is sent gets read: the socket fills up. */
  async function freezeServer(): Promise<void> {
    server.child.kill('SIGSTOP');
    await until(() => isStopped(server.pid));
  }

  function recordFlowControl(client: IpcClient): boolean[] {
    const changes: boolean[] = [];
    client.on('flowControl', (on) => {
      expect(on).toBe(client.flowControlled);
      changes.push(on);
    });
    return changes;
  }

  it('is flow-controlled while a stalled server leaves its output unwritten; requests wait their turn, in order', async () => {
    const client = await connectTo(socket.address, 'echo', { sendQueueHighWater: HIGH_WATER });
    const changes = recordFlowControl(client);
    await freezeServer();
    const payloads = Array.from({ length: 40 }, (_, i) => patternPayload(7, i, CHUNK));
    const replies = payloads.map((payload) => client.request(1, payload));
    expect(client.flowControlled).toBe(true);
    expect(client.queuedRequests).toBeGreaterThan(0);
    // Waiting to be sent still honours the request's own timeout; it leaves the queue unsent.
    const impatient = client.request(1, Buffer.from('impatient'), { timeout: 50 });
    await expect(impatient).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(client.flowControlled).toBe(true);
    expect(client.stats.requests).toBeLessThan(40);

    server.child.kill('SIGCONT');
    const answers = await Promise.all(replies);
    answers.forEach((answer, i) => {
      expect(answer.equals(payloads[i]!)).toBe(true);
    });
    expect(client.flowControlled).toBe(false);
    expect(client.queuedRequests).toBe(0);
    expect(client.stats.requests).toBe(40);
    // Each change reported once: on, off, on, …, ending off.
    expect(changes[0]).toBe(true);
    expect(changes.at(-1)).toBe(false);
    changes.forEach((on, i) => {
      expect(on).toBe(i % 2 === 0);
    });
    await client.close();
  });

  it('rejects with EAGAIN while flow-controlled when told to, and takes requests again once the queue drained', async () => {
    const client = await connectTo(socket.address, 'echo', {
      sendQueueHighWater: HIGH_WATER,
      whenFlowControlled: 'reject',
    });
    const changes = recordFlowControl(client);
    await freezeServer();
    const accepted: Promise<Buffer>[] = [];
    while (!client.flowControlled) accepted.push(client.request(1, patternPayload(3, accepted.length, CHUNK)));
    const refused = await client.request(1, Buffer.from('one more')).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'EAGAIN' });
    expect((refused as Error).message).toMatch(/sendQueueHighWater/);
    expect(client.queuedRequests).toBe(0);

    server.child.kill('SIGCONT');
    await Promise.all(accepted);
    await until(() => !client.flowControlled);
    expect((await client.request(1, Buffer.from('one more'))).toString()).toBe('one more');
    expect(changes).toEqual([true, false]);
    await client.close();
  });
});

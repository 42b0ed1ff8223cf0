import { afterEach, describe, expect, it } from 'vitest';
import type { TestServer } from './support/server.js';
import { transportMatrix, useBackends } from './support/backends.js';

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { connectTo, startServerOn, spawnFixture } = useBackends(pair);

  let running: TestServer | undefined;

  afterEach(async () => {
    await running?.stop();
  });

  it('keeps serving a quiet client while two others flood the server with pipelined requests', async () => {
    running = await startServerOn((server) =>
      server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }),
    );
    const burst = 200_000;
    const flooders = [0, 1].map(() => spawnFixture('client', ['burst', running!.address, String(burst)]));
    await Promise.all(flooders.map((peer) => peer.next('sent')));
    const quiet = await connectTo(running.address, 'echo');
    for (let i = 0; i < 50; i++) {
      expect((await quiet.request(1, Buffer.from(`quiet ${i}`))).toString()).toBe(`quiet ${i}`);
    }
    // Served between the flooders' turns, not after them: the flood is not through yet. A server
    // that drained one connection before looking at the next would have served the flood first.
    expect(running.server.stats().services[0]!.requests - 50).toBeLessThan(2 * burst);
    await quiet.close();
    await Promise.all(flooders.map((peer) => peer.next('done')));
    await Promise.all(flooders.map((peer) => peer.exited));
  });
});

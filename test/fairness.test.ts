import { afterEach, expect, it } from 'vitest';
import { connect } from 'pollux';
import { spawnPeer } from './support/peer.js';
import { startServer, type TestServer } from './support/server.js';

let running: TestServer | undefined;

afterEach(async () => {
  await running?.stop();
});

it('keeps serving a quiet client while another floods the server with pipelined requests', async () => {
  running = await startServer((server) => server.addService({ id: 1, name: 'echo', commands: { 1: (payload) => payload } }));
  const flooders = [spawnPeer('client', ['flood', running.address, '2000']), spawnPeer('client', ['flood', running.address, '2000'])];
  await Promise.all(flooders.map((peer) => peer.next('flooding')));
  const quiet = await connect(running.address, 'echo');
  const before = running.server.stats().services[0]!.requests;
  for (let i = 0; i < 50; i++) {
    expect((await quiet.request(1, Buffer.from(`quiet ${i}`))).toString()).toBe(`quiet ${i}`);
  }
  // The flood ran the whole time: the quiet client was served between its bursts, not after it.
  const during = running.server.stats().services[0]!.requests - before;
  expect(during).toBeGreaterThan(50);
  for (const peer of flooders) expect(peer.child.exitCode).toBeNull();
  await quiet.close();
  for (const peer of flooders) peer.child.kill('SIGKILL');
  await Promise.all(flooders.map((peer) => peer.exited));
});

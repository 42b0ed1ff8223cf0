import { describe, expect, it } from 'vitest';
import { openFdCount } from './support/fds.js';
import { transportMatrix, useBackends } from './support/backends.js';

const QUIET_ROUND_TRIPS = 300;
/** The flooder keeps this many requests in flight, forever: far more than the quiet client's one. */
const FLOOD_IN_FLIGHT = 512;

describe.each(transportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { connectTo, startServerOn, spawnFixture } = useBackends(pair);

  it(`completes ${QUIET_ROUND_TRIPS} round trips of a quiet client while another floods without end`, async () => {
    const fdsBefore = openFdCount();
    let flooded = 0;
    const running = await startServerOn((server) =>
      server.addService({
        id: 1,
        name: 'echo',
        commands: {
          1: (payload) => {
            flooded++;
            return payload;
          },
          2: (payload) => payload,
        },
      }),
    );
    const flooder = spawnFixture('pipeline', [running.address, String(FLOOD_IN_FLIGHT), '4096', '0']);
    await flooder.next('acked');
    const quiet = await connectTo(running.address, 'echo');
    const floodedBefore = flooded;
    for (let i = 0; i < QUIET_ROUND_TRIPS; i++) {
      expect((await quiet.request(2, Buffer.from(`quiet ${i}`))).toString()).toBe(`quiet ${i}`);
    }
    // The flood ran all along: it was served between the quiet client's requests, and it is
    // still going (the flooder stops only when killed).
    expect(flooded).toBeGreaterThan(floodedBefore);
    expect(flooder.child.exitCode).toBeNull();
    await quiet.close();
    flooder.child.kill('SIGKILL');
    await flooder.exited;
    await running.stop();
    expect(openFdCount()).toBe(fdsBefore);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IpcError } from 'pollux';
import { memfdMappingCount, openFdCount } from './support/fds.js';
import type { Peer } from './support/peer.js';
import { until } from './support/server.js';
import { heavyTransportMatrix, useBackends } from './support/backends.js';

/**
 * Kills per backend pair: 200, 1,600 processes over the matrix (~3 minutes on two cores, nearly
 * all of it Node's start-up). POLLUX_KILLS sets another count, e.g. fewer while iterating.
 */
const VICTIMS = Number(process.env['POLLUX_KILLS'] ?? 200);
/** Victims alive at once: one starts up while another runs. */
const CONCURRENT = 3;
const IN_FLIGHT = 32;
const LARGEST_REQUEST = 2048;

/** When to kill a victim: as soon as it is spawned, right after its handshake, or after n acknowledged responses. */
type KillPoint = 'spawned' | 'connected' | number;
const killPoint: fc.Arbitrary<KillPoint> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom<KillPoint>('spawned', 'connected') },
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 500 }) },
);

/** The highest `through` the victim reported: every request below it had its correct response. */
async function acknowledged(peer: Peer, atLeast: number): Promise<number> {
  for (;;) {
    const through = (await peer.next('acked'))['through'] as number;
    if (through >= atLeast) return through;
  }
}

/** After the victim exited: the last acknowledgement it managed to print. */
async function lastAcknowledged(peer: Peer, seen: number): Promise<number> {
  let through = seen;
  for (;;) {
    const message = await peer.next('acked').catch(() => undefined);
    if (message === undefined) return through;
    through = Math.max(through, message['through'] as number);
  }
}

describe.each(heavyTransportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { startServerOn, spawnFixture } = useBackends(pair);

  it(
    `loses no acknowledged request and leaks nothing when ${VICTIMS} pipelining clients are killed with SIGKILL at random points`,
    async () => {
      const seed = Date.now() >>> 0;
      const plan = fc.sample(killPoint, { numRuns: VICTIMS, seed });
      const fdsBefore = openFdCount();
      /** Per victim tag: how many times the server handled each sequence number. */
      const handled = new Map<number, Map<number, number>>();
      const hooks = { created: 0, closed: 0, destroyed: 0, closedBeforeDestroyed: true };
      const reasons = new Map<string, number>();
      const running = await startServerOn((server) =>
        server.addService<{ closed: boolean }>({
          id: 1,
          name: 'echo',
          createContext: () => ({ closed: false }),
          created: () => hooks.created++,
          closed: (connection, reason) => {
            hooks.closed++;
            connection.context.closed = true;
            const code = (reason as IpcError).code;
            reasons.set(code, (reasons.get(code) ?? 0) + 1);
          },
          destroyed: (connection) => {
            hooks.destroyed++;
            if (!connection.context.closed) hooks.closedBeforeDestroyed = false;
          },
          commands: {
            1: (payload) => {
              const seq = payload.readUInt32LE(0);
              const tag = payload.readUInt32LE(4);
              let counts = handled.get(tag);
              if (counts === undefined) handled.set(tag, (counts = new Map()));
              counts.set(seq, (counts.get(seq) ?? 0) + 1);
              return payload;
            },
          },
        }),
      );
      const fdsListening = openFdCount();
      const mappingsListening = memfdMappingCount();
      const acked: number[] = [];

      async function runVictim(tag: number): Promise<void> {
        const peer = spawnFixture('pipeline', [
          running.address,
          String(IN_FLIGHT),
          String(LARGEST_REQUEST),
          String(tag),
        ]);
        const point = plan[tag]!;
        let seen = 0;
        if (point === 'connected') await peer.next('connected');
        else if (typeof point === 'number') seen = await acknowledged(peer, point);
        peer.child.kill('SIGKILL');
        const exit = await peer.exited;
        expect(exit.signal, `victim ${tag} ended before it was killed (seed ${seed})`).toBe('SIGKILL');
        acked[tag] = await lastAcknowledged(peer, seen);
      }

      let nextVictim = 0;
      await Promise.all(
        Array.from({ length: CONCURRENT }, async () => {
          while (nextVictim < VICTIMS) await runVictim(nextVictim++);
        }),
      );

      await until(() => running.server.stats().connections === 0 && hooks.closed === hooks.created);
      const service = running.server.stats().services[0]!;
      expect(service.accepted).toBe(hooks.created);
      expect(service.closed).toBe(hooks.created);
      expect(hooks.destroyed).toBe(hooks.closed);
      expect(hooks.closedBeforeDestroyed).toBe(true);
      // Every victim whose kill point came after its handshake had a connection.
      expect(hooks.created).toBeGreaterThanOrEqual(plan.filter((point) => point !== 'spawned').length);

      let lost = 0;
      let duplicated = 0;
      for (let tag = 0; tag < VICTIMS; tag++) {
        const counts = handled.get(tag) ?? new Map<number, number>();
        for (let seq = 0; seq < acked[tag]!; seq++) if (counts.get(seq) !== 1) lost++;
        for (const count of counts.values()) if (count > 1) duplicated++;
      }
      expect({ lost, duplicated }, `seed ${seed}`).toEqual({ lost: 0, duplicated: 0 });
      expect(openFdCount()).toBe(fdsListening);
      // Over shared memory, every dead victim's rings are unmapped too.
      expect(memfdMappingCount()).toBe(mappingsListening);
      await running.stop();
      expect(openFdCount()).toBe(fdsBefore);
      const totalAcked = acked.reduce((sum, n) => sum + n, 0);
      console.info(
        `kill storm ${pair.server}/${pair.client} over ${pair.transport}: ${VICTIMS} kills, ${hooks.created} connections, ${totalAcked} acknowledged, closed reasons ${JSON.stringify(Object.fromEntries(reasons))}, seed ${seed}`,
      );
      // A guard against a hung run, not a deadline: a victim takes a fraction of this on a loaded machine.
    },
    VICTIMS * 1_000,
  );
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpcError, type Connection } from 'pollux';
import { openFdCount } from './support/fds.js';
import type { Peer } from './support/peer.js';
import { until } from './support/server.js';
import { heavyTransportMatrix, useBackends } from './support/backends.js';

/** Commands of the service under test. */
const REGISTER = 0;
const ECHO = 1;
const HELD = 2; // answers when the test releases it
const THROWS = 3;
const UNKNOWN = 9;

type Action =
  | { op: 'connect'; process: number }
  | { op: 'request'; command: number }
  | { op: 'cancel' }
  | { op: 'release' }
  | { op: 'event' }
  | { op: 'close' }
  | { op: 'kill'; process: number };

const PROCESSES = 2;
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('connect' as const), process: fc.nat(PROCESSES - 1) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('request' as const),
      command: fc.constantFrom(ECHO, HELD, THROWS, UNKNOWN),
    }),
  },
  { weight: 1, arbitrary: fc.constant<Action>({ op: 'cancel' }) },
  { weight: 1, arbitrary: fc.constant<Action>({ op: 'release' }) },
  { weight: 2, arbitrary: fc.constant<Action>({ op: 'event' }) },
  { weight: 1, arbitrary: fc.constant<Action>({ op: 'close' }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('kill' as const), process: fc.nat(PROCESSES - 1) }) },
);

/** What a request must settle with, as the model sees it. */
type Expected = { ok: true; payload: string } | { ok: false; code: string };

interface ModelConnection {
  readonly id: number;
  readonly process: number;
  open: boolean;
}
interface ModelRequest {
  readonly id: number;
  readonly conn: number;
  readonly command: number;
  /** Undefined while a held request waits for the test to release or cancel it. */
  expected: Expected | undefined;
  /** Its client process was killed: it may never have settled. */
  killed: boolean;
  /** A held request the server has answered. */
  released: boolean;
}

describe.each(heavyTransportMatrix)('server on $server, clients on $client, over $transport', (pair) => {
  const { startServerOn, spawnFixture } = useBackends(pair);

  it('keeps every promise of the model through random connects, requests, cancels, events, kills and closes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 14 }), async (actions) => {
        const fdsBefore = openFdCount();
        const hookLog = new Map<number, string[]>();
        const byModelId = new Map<number, Connection<unknown>>();
        /** Held requests the server has received, by model request id. */
        const held = new Map<number, () => void>();
        const serverErrors: IpcError[] = [];
        const running = await startServerOn((server) => {
          server.on('error', (error) => serverErrors.push(error));
          server.addService({
            id: 1,
            name: 'model',
            created: (connection) => hookLog.set(connection.id, ['created']),
            closed: (connection) => hookLog.get(connection.id)!.push('closed'),
            destroyed: (connection) => hookLog.get(connection.id)!.push('destroyed'),
            commands: {
              [REGISTER]: (payload, connection) => void byModelId.set(Number(payload.toString()), connection),
              [ECHO]: (payload) => payload,
              [HELD]: (payload) =>
                new Promise<Buffer>((resolve) =>
                  held.set(Number(payload.toString().split(' ')[1]), () => resolve(payload)),
                ),
              [THROWS]: () => {
                throw new IpcError('EPERM', 'not allowed');
              },
            },
          });
        });
        const processes: (Peer | undefined)[] = Array.from({ length: PROCESSES }, () => undefined);
        const connections: ModelConnection[] = [];
        const requests: ModelRequest[] = [];
        const settled = new Map<number, unknown[]>();
        const send = (peer: Peer, command: Record<string, unknown>): void =>
          void peer.child.stdin!.write(`${JSON.stringify(command)}\n`);

        async function spawnProcess(index: number): Promise<Peer> {
          const peer = spawnFixture('driven-client', [running.address], { stdin: true });
          processes[index] = peer;
          await peer.next('ready');
          return peer;
        }
        /** Waits for the next outcome the process reports, recording it. */
        async function awaitSettled(peer: Peer): Promise<void> {
          const message = await peer.next('settled');
          const req = message['req'] as number;
          settled.set(req, [...(settled.get(req) ?? []), message]);
        }
        const pendingSettles: Promise<void>[] = [];
        /**
         * Answers every held request of a living client: waits until the server has them all
         * (they may still be on their way), then sets them free.
         */
        async function releaseHeld(): Promise<void> {
          // Cancelled ones too: the client gave up on them, but they still reach the server, and
          // their connection's destroyed hook waits for their handlers.
          const waiting = requests.filter((r) => r.command === HELD && !r.released && !r.killed);
          await until(() => waiting.every((r) => held.has(r.id)));
          for (const r of waiting) {
            r.released = true;
            r.expected ??= { ok: true, payload: `request ${r.id}` };
          }
          for (const finish of held.values()) finish();
          held.clear();
        }
        const liveConnections = (): ModelConnection[] => connections.filter((c) => c.open);

        for (const step of actions) {
          switch (step.op) {
            case 'connect': {
              const peer = processes[step.process] ?? (await spawnProcess(step.process));
              const conn = { id: connections.length, process: step.process, open: true };
              connections.push(conn);
              send(peer, { op: 'connect', conn: conn.id });
              await peer.next('connected');
              break;
            }
            case 'request': {
              const conn = liveConnections().at(-1);
              if (conn === undefined) break;
              const id = requests.length;
              const payload = `request ${id}`;
              const expected: Expected | undefined =
                step.command === ECHO
                  ? { ok: true, payload }
                  : step.command === THROWS
                    ? { ok: false, code: 'EPERM' }
                    : step.command === UNKNOWN
                      ? { ok: false, code: 'ENOSYS' }
                      : undefined;
              requests.push({ id, conn: conn.id, command: step.command, expected, killed: false, released: false });
              const peer = processes[conn.process]!;
              send(peer, { op: 'request', conn: conn.id, req: id, command: step.command });
              pendingSettles.push(awaitSettled(peer).catch(() => undefined));
              break;
            }
            case 'cancel': {
              const target = requests.find(
                (r) => r.command === HELD && !r.released && r.expected === undefined && connections[r.conn]!.open,
              );
              if (target === undefined) break;
              target.expected = { ok: false, code: 'ECANCELED' };
              const peer = processes[connections[target.conn]!.process]!;
              send(peer, { op: 'cancel', req: target.id });
              // A release that follows must not overtake the cancel on its way through stdin.
              expect(await peer.next('cancelled')).toMatchObject({ req: target.id });
              break;
            }
            case 'release':
              await releaseHeld();
              break;
            case 'event': {
              const conn = liveConnections().at(-1);
              if (conn === undefined) break;
              const peer = processes[conn.process]!;
              byModelId.get(conn.id)!.sendEvent(7, Buffer.from(`event for ${conn.id}`));
              expect(await peer.next('event')).toMatchObject({
                conn: conn.id,
                event: 7,
                payload: `event for ${conn.id}`,
              });
              break;
            }
            case 'close': {
              const conn = liveConnections().at(-1);
              if (conn === undefined) break;
              // A graceful close waits for what is pending: release the held requests first.
              await releaseHeld();
              conn.open = false;
              const peer = processes[conn.process]!;
              send(peer, { op: 'close', conn: conn.id });
              expect(await peer.next('closed')).toMatchObject({ conn: conn.id, code: 'ECONNABORTED' });
              // The server's side ends once it has read the goodbye.
              await until(() => running.server.stats().services[0]!.connections === liveConnections().length);
              break;
            }
            case 'kill': {
              const peer = processes[step.process];
              if (peer === undefined) break;
              const dying = connections.filter((c) => c.process === step.process && c.open);
              for (const c of dying) c.open = false;
              peer.child.kill('SIGKILL');
              await peer.exited;
              processes[step.process] = undefined;
              // Requests of the killed process may never settle: the process is gone.
              for (const r of requests) if (connections[r.conn]!.process === step.process) r.killed = true;
              await until(() => running.server.stats().services[0]!.connections === liveConnections().length);
              break;
            }
          }
          expect(running.server.stats().services[0]!.connections).toBe(liveConnections().length);
        }

        // Wind down: release what is held, wait for every outcome of the living, close them all.
        await releaseHeld();
        await Promise.all(pendingSettles);
        for (const peer of processes) peer?.child.stdin!.end();
        await Promise.all(processes.map((peer) => peer?.exited));
        await until(() => running.server.stats().connections === 0);
        await running.stop();

        for (const r of requests) {
          const outcomes = settled.get(r.id) ?? [];
          if (r.killed) {
            expect(outcomes.length).toBeLessThanOrEqual(1);
            continue;
          }
          expect(outcomes, `request ${r.id} (command ${r.command})`).toHaveLength(1);
          expect(outcomes[0]).toMatchObject(r.expected!);
        }
        expect(hookLog.size).toBe(connections.length);
        for (const log of hookLog.values()) expect(log).toEqual(['created', 'closed', 'destroyed']);
        const stats = running.server.stats();
        expect(stats.services[0]).toMatchObject({
          accepted: connections.length,
          closed: connections.length,
          connections: 0,
        });
        expect(serverErrors).toEqual([]);
        expect(openFdCount()).toBe(fdsBefore);
      }),
      { numRuns: 10 },
    );
  }, 120_000);
});

/**
 * The workloads whose server holds idle connections: its memory per idle connection, and the
 * round trip of one busy connection beside more and more idle ones. The idle connections are
 * opened by holder processes (client-main.ts with a hold spec), spread over a few so that no
 * process holds too many fds, and the measured client is a process of its own.
 */
import { polluxOn, type Contender } from './contenders.js';
import { rssKiB, runOne, startHolder, type ServerProcess } from './processes.js';
import type { FdCountResult, FdCountWorkload, IdleResult, IdleWorkload } from './workloads.js';

/**
 * Idle connections per holder process: under the soft fd limit most systems start processes
 * with (1,024), should Node fail to raise it.
 */
const CONNECTIONS_PER_HOLDER = 1000;
/**
 * Fds a server needs besides one per connection: stdio, the listening socket, the poller's own
 * (epoll, eventfd, a pump's), Node's.
 */
const SERVER_FDS = 64;

type Holder = { stop(): Promise<void> };

async function stopAll(holders: readonly Holder[]): Promise<void> {
  await Promise.all(holders.map((holder) => holder.stop()));
}

/** Opens `connections` idle connections of `contender` to `address`, spread evenly over holder processes. */
async function holdIdle(contender: Contender, address: string, connections: number): Promise<Holder[]> {
  const processes = Math.ceil(connections / CONNECTIONS_PER_HOLDER);
  const started = await Promise.allSettled(
    Array.from({ length: processes }, (_, i) =>
      startHolder(
        contender,
        address,
        Math.floor(((i + 1) * connections) / processes) - Math.floor((i * connections) / processes),
      ),
    ),
  );
  const holders = started.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const failed = started.find((outcome) => outcome.status === 'rejected');
  if (failed !== undefined) {
    await stopAll(holders);
    throw failed.reason;
  }
  return holders;
}

/**
 * Server RSS on a fresh server before idle clients connect, with `workload.connections` of them,
 * and with twice as many. A short connect run first takes the server through every path a
 * connection uses; the server collects garbage until its RSS settles before each reading.
 *
 * Per connection is the growth from the first batch to the second: one-time costs land with the
 * first batch whatever the warm-up (the optimizing compiler's code, faulted in once V8 first
 * compiles with it; much of V8's young generation, which grows as bursts of objects survive), and
 * where they land depends on the warm-up's length: 50 connects left them in the first batch,
 * 2,000 in the base, for the same code. The growth over the first batch is kept beside it.
 */
export async function idle(
  contender: Contender,
  address: string,
  server: ServerProcess,
  workload: IdleWorkload,
): Promise<IdleResult> {
  await runOne(contender, address, {
    kind: 'connect',
    size: workload.size,
    count: 50,
    warmup: 0,
    warmupMs: 0,
    maxMs: 10_000,
  });
  await server.settle();
  const rssBeforeKiB = rssKiB(server.pid);
  const holders: Holder[] = [];
  try {
    holders.push(...(await holdIdle(contender, address, workload.connections)));
    await server.settle();
    const rssFirstKiB = rssKiB(server.pid);
    holders.push(...(await holdIdle(contender, address, workload.connections)));
    await server.settle();
    const rssAfterKiB = rssKiB(server.pid);
    return {
      kind: 'idle',
      connections: workload.connections,
      rssBeforeKiB,
      rssFirstKiB,
      rssAfterKiB,
      kibPerConnection: (rssAfterKiB - rssFirstKiB) / workload.connections,
      kibFirstBatch: (rssFirstKiB - rssBeforeKiB) / workload.connections,
    };
  } finally {
    await stopAll(holders);
  }
}

/**
 * The workload's round trip on one busy connection of `contender` (a fresh client process per
 * point) while the server holds each number of idle connections in turn, growing. The idle ones
 * are NodePoller clients whatever the contender: what is measured is the server's poller, and an
 * idle NodePoller client costs its holder nothing (a pump client would wake to poll them all).
 */
export async function fdCount(
  contender: Contender,
  address: string,
  workload: FdCountWorkload,
): Promise<FdCountResult> {
  const holders: Holder[] = [];
  const points: FdCountResult['points'][number][] = [];
  let held = 0;
  try {
    for (const idle of workload.idle) {
      if (idle > held) holders.push(...(await holdIdle(polluxOn('node'), address, idle - held)));
      held = idle;
      const result = await runOne(contender, address, workload.latency);
      if (result.kind !== 'latency') throw new Error(`a round trip came back as ${result.kind}`);
      points.push({ idle, p50: result.p50, p99: result.p99 });
    }
  } finally {
    await stopAll(holders);
  }
  return { kind: 'fdcount', points };
}

/**
 * `workload` with as many idle connections per batch as the server can open twice over under
 * `openFiles` (see openFileLimit), and why it holds fewer than asked; no reason when all fit.
 */
export function idleWithinFdLimit(
  workload: IdleWorkload,
  openFiles: number,
): { readonly workload: IdleWorkload; readonly leftOut?: string } {
  const most = Math.max(1, Math.floor((openFiles - SERVER_FDS) / 2));
  if (workload.connections <= most) return { workload };
  return {
    workload: { ...workload, connections: most },
    leftOut:
      `the idle workload holds ${most} then ${2 * most} connections, not ${workload.connections} then ` +
      `${2 * workload.connections}: a process here may open ${openFiles} fds (the hard RLIMIT_NOFILE); raise it ` +
      `(as root: ulimit -Hn ${2 * workload.connections + SERVER_FDS}) before starting the bench`,
  };
}

/**
 * `workload` without the numbers of idle connections the server could not open under
 * `openFiles` (see openFileLimit), and what was left out and why; undefined when all fit.
 */
export function withinFdLimit(
  workload: FdCountWorkload,
  openFiles: number,
): { readonly workload: FdCountWorkload; readonly leftOut?: string } {
  const fits = workload.idle.filter((idle) => idle + SERVER_FDS <= openFiles);
  if (fits.length === workload.idle.length) return { workload };
  const dropped = workload.idle.filter((idle) => !fits.includes(idle));
  return {
    workload: { ...workload, idle: fits },
    leftOut:
      `${dropped.join(', ')} idle connections left out of the fd-count workload: a process here may open ` +
      `${openFiles} fds (the hard RLIMIT_NOFILE, which Node raises its soft limit to), the server needs ` +
      `${SERVER_FDS} beside its connections; raise the hard limit (as root: ulimit -Hn ${Math.max(...dropped) + SERVER_FDS}, ` +
      "or the container's nofile ulimit) before starting the bench",
  };
}

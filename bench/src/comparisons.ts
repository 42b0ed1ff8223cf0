/**
 * The comparisons the bench reports, one table each: which contenders are its columns and which
 * workloads it covers. Every figure's ratio divides by the node:net floor measured in the same
 * run ({@link FLOOR}), so figures from different tables compare directly; except in the libqb
 * table, whose ratios divide by libqb over shared memory, the C stack pollux measures itself against.
 */
import { BACKENDS } from './backends.js';
import { BROADCAST, CONTENDERS, PEERS, polluxOn, polluxShmOn, REMOTE, SHM_SPIN, type Contender } from './contenders.js';
import { libqbRuns } from './libqb.js';
import { curveAxis, type Workload } from './workloads.js';

/** What every ratio divides by: hand-framed node:net, the floor any JS socket library pays. */
export const FLOOR: Contender = 'net';

export interface Comparison {
  readonly id: string;
  readonly title: string;
  readonly columns: readonly Contender[];
  /** What the table's ratios divide by, when not the node:net {@link FLOOR}. */
  readonly reference?: Contender;
  covers(workload: Workload): boolean;
}

/**
 * What the backend comparison covers: the rows where the cost per event shows undiluted by
 * copying (64 B round trips and pipelining, events, connections). The poller does not change
 * what a payload costs, so 4 KiB and 64 KiB rows and idle memory would restate the NodePoller
 * column at the price of minutes of bench time.
 */
function backendWorkload(workload: Workload): boolean {
  switch (workload.kind) {
    case 'latency':
    case 'throughput':
    case 'connect':
      return workload.size === 64;
    case 'events':
      return workload.size === 64 && workload.clients === 1;
    default:
      return false;
  }
}

/** A workload measured as one figure per metric; a curve has a table of its own, a row per point. */
const oneFigure = (workload: Workload): boolean => curveAxis(workload) === undefined;

/**
 * Replies received into the caller's buffer: only pollux (`requestInto`) and libqb (whose client
 * always receives so) have a way to; a table of their own.
 */
const intoCallersBuffer = (workload: Workload): boolean => workload.kind === 'throughput' && workload.into === true;

export const COMPARISONS: readonly Comparison[] = [
  {
    id: 'stacks',
    title: 'pollux (on NodePoller, the default) and the stacks a user would pick instead',
    columns: [polluxOn('node'), ...PEERS],
    covers: (workload) => oneFigure(workload) && !intoCallersBuffer(workload),
  },
  {
    id: 'backends',
    title: 'pollux on each poller backend (server and client on the same one)',
    columns: [...BACKENDS.map(polluxOn), FLOOR],
    covers: backendWorkload,
  },
  {
    id: 'transports',
    title: 'pollux over Unix sockets and over shared memory (on each poller backend, and with a spin)',
    columns: [polluxOn('node'), ...BACKENDS.map(polluxShmOn), SHM_SPIN, FLOOR],
    covers: (workload) =>
      ['latency', 'throughput', 'events'].includes(workload.kind) &&
      oneFigure(workload) &&
      !intoCallersBuffer(workload),
  },
  {
    id: 'broadcast',
    title: 'pollux pushing events: a sendEvent per connection, or one broadcast per event',
    columns: [polluxOn('node'), BROADCAST, FLOOR],
    covers: (workload) => workload.kind === 'events',
  },
  {
    id: 'libqb',
    title: 'pollux beside libqb over shared memory and over sockets (ratios to libqb shm, not node:net)',
    columns: [polluxOn('node'), polluxShmOn('node'), SHM_SPIN, 'libqb-shm', 'libqb-socket', FLOOR],
    reference: 'libqb-shm',
    covers: (workload) => libqbRuns(workload) && !intoCallersBuffer(workload),
  },
  {
    id: 'into',
    title: "bulk received into the caller's buffer: pollux's requestInto beside libqb (ratios to libqb shm)",
    columns: [polluxOn('node'), polluxShmOn('node'), 'libqb-shm', 'libqb-socket'],
    reference: 'libqb-shm',
    covers: intoCallersBuffer,
  },
  {
    id: 'warmup',
    title: 'the first seconds of a fresh server and client process: pipelined requests/s per window',
    columns: [polluxOn('node'), FLOOR],
    covers: (workload) => workload.kind === 'warmup',
  },
  {
    id: 'remote',
    title: 'what a hop over NATS on loopback costs: pollux local, pollux through the NATS bridge, plain NATS',
    columns: [polluxOn('node'), ...REMOTE, FLOOR],
    covers: (workload) => (workload.kind === 'latency' || workload.kind === 'throughput') && workload.size <= 4096,
  },
  {
    id: 'fdcount',
    title: 'one busy connection beside idle ones: round trip p50 per poller (no node:net column, no ratio)',
    columns: BACKENDS.map(polluxOn),
    covers: (workload) => workload.kind === 'fdcount',
  },
];

/** The contenders that run `workload`, in table order: every column of every comparison covering it, once. */
export function contendersFor(workload: Workload, comparisons: readonly Comparison[] = COMPARISONS): Contender[] {
  const wanted = new Set(
    comparisons.filter((comparison) => comparison.covers(workload)).flatMap((comparison) => comparison.columns),
  );
  return CONTENDERS.filter((contender) => wanted.has(contender));
}

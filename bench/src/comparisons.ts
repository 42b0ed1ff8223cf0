/**
 * The comparisons the bench reports, one table each: which contenders are its columns, which one
 * its ratios divide by, and which workloads and metrics it covers. They share runs: a workload in
 * both comparisons runs each contender once per repeat, so the pollux-on-NodePoller runs are the
 * pollux column of the first table and the baseline of the second, measured in the same repeats
 * as everything they are compared with.
 */
import { BACKENDS, POLLER_CLASS } from './backends.js';
import { polluxOn, type Contender } from './contenders.js';
import type { Workload } from './workloads.js';

export interface Column {
  readonly contender: Contender;
  /** The column's header in the table. */
  readonly header: string;
  /** The contender's name in the ratio headers ("ratio pollux/net"). */
  readonly short: string;
}

export interface Comparison {
  readonly id: string;
  readonly title: string;
  readonly columns: readonly Column[];
  /** The contender every other column is divided by. */
  readonly baseline: Contender;
  covers(workload: Workload): boolean;
  /** The units of the metrics shown; all when absent. */
  readonly units?: readonly string[];
}

export const COMPARISONS: readonly Comparison[] = [
  {
    id: 'stacks',
    title: 'pollux (on NodePoller, the default) vs node:net',
    columns: [
      { contender: polluxOn('node'), header: 'pollux', short: 'pollux' },
      { contender: 'net', header: 'node:net', short: 'net' },
    ],
    baseline: 'net',
    covers: () => true,
  },
  {
    id: 'backends',
    title: 'pollux on each poller backend (server and client on the same one)',
    columns: BACKENDS.map((backend) => ({ contender: polluxOn(backend), header: POLLER_CLASS[backend], short: backend })),
    baseline: polluxOn('node'),
    // What separates the backends is the cost per event: a small payload shows it undiluted by
    // copying, and these two workloads are the ones its figures were first measured on.
    covers: (workload) => workload.size === 64 && (workload.kind === 'latency' || workload.inFlight === 64),
    // MB/s of a fixed 64 B payload only restates k req/s.
    units: ['µs', 'k req/s'],
  },
];

/** The contenders that run `workload`: every column of every comparison covering it, once. */
export function contendersFor(workload: Workload, comparisons: readonly Comparison[] = COMPARISONS): Contender[] {
  const out: Contender[] = [];
  for (const comparison of comparisons) {
    if (!comparison.covers(workload)) continue;
    for (const { contender } of comparison.columns) if (!out.includes(contender)) out.push(contender);
  }
  return out;
}

/**
 * Turning the runs into what a reader looks at: medians per metric, a text table, and the JSON
 * written to bench/results/latest.json.
 */
import type { Stack } from './echo-client.js';
import { median } from './stats.js';
import { describe, type Workload, type WorkloadResult } from './workloads.js';

export interface WorkloadRuns {
  readonly workload: Workload;
  readonly runs: Record<Stack, WorkloadResult[]>;
}

export interface Row {
  readonly label: string;
  readonly unit: string;
  /** Which direction is good, so the ratio column can be read without guessing. */
  readonly better: 'lower' | 'higher';
  readonly pollux: number;
  readonly net: number;
  readonly ratio: number;
}

type Metric = { readonly name: string; readonly unit: string; readonly better: 'lower' | 'higher'; readonly pick: (r: WorkloadResult) => number };

function metrics(workload: Workload): Metric[] {
  if (workload.kind === 'latency') {
    const pick = (key: 'p50' | 'p99') => (r: WorkloadResult) => (r.kind === 'latency' ? r[key] : Number.NaN);
    return [
      { name: 'p50', unit: 'µs', better: 'lower', pick: pick('p50') },
      { name: 'p99', unit: 'µs', better: 'lower', pick: pick('p99') },
    ];
  }
  return [
    { name: '', unit: 'k req/s', better: 'higher', pick: (r) => (r.kind === 'throughput' ? r.requestsPerSecond / 1000 : Number.NaN) },
    { name: '', unit: 'MB/s', better: 'higher', pick: (r) => (r.kind === 'throughput' ? r.megabytesPerSecond : Number.NaN) },
  ];
}

/** One row per metric, each the median over the repeated runs of that stack. */
export function rows(results: readonly WorkloadRuns[]): Row[] {
  const out: Row[] = [];
  for (const { workload, runs } of results) {
    for (const metric of metrics(workload)) {
      const pollux = median(runs.pollux.map(metric.pick));
      const net = median(runs.net.map(metric.pick));
      const label = [describe(workload), metric.name].filter((part) => part !== '').join(', ');
      out.push({ label, unit: metric.unit, better: metric.better, pollux, net, ratio: pollux / net });
    }
  }
  return out;
}

function format(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function table(list: readonly Row[]): string {
  const header = ['workload', 'pollux', 'node:net', 'ratio pollux/net'];
  const body = list.map((row) => [
    `${row.label} (${row.unit}, ${row.better} is better)`,
    format(row.pollux),
    format(row.net),
    `${row.ratio.toFixed(2)}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/**
 * Turning the runs into what a reader looks at: medians per metric, ratios to the node:net floor,
 * one text table per comparison, and the rows written to bench/results/latest.json.
 */
import { COMPARISONS, FLOOR, type Comparison } from './comparisons.js';
import { LABEL, type Contender } from './contenders.js';
import { median } from './stats.js';
import { describe, type Workload, type WorkloadResult } from './workloads.js';

export interface WorkloadRuns {
  readonly workload: Workload;
  /** Every run of each contender that ran this workload, in repeat order. */
  readonly runs: Partial<Record<Contender, WorkloadResult[]>>;
  /** Contenders that cannot run here, with the reason (shown as n/a). */
  readonly unavailable: Partial<Record<Contender, string>>;
}

export interface Row {
  readonly workload: Workload;
  readonly label: string;
  readonly unit: string;
  /** Which direction is good, so ratios can be read without guessing. */
  readonly better: 'lower' | 'higher';
  /** Where the row sits on the x axis of a curve (see curveAxis); undefined outside curves. */
  readonly x?: number;
  /** Median over the repeats, per contender that ran. */
  readonly values: Partial<Record<Contender, number>>;
  /** Each contender's median divided by the node:net floor's median of the same run. */
  readonly ratios: Partial<Record<Contender, number>>;
}

type Metric = {
  readonly name: string;
  readonly unit: string;
  readonly better: 'lower' | 'higher';
  readonly x?: number;
  readonly pick: (r: WorkloadResult) => number;
};

function metrics(workload: Workload): Metric[] {
  switch (workload.kind) {
    case 'latency': {
      const pick = (key: 'p50' | 'p99') => (r: WorkloadResult) => (r.kind === 'latency' ? r[key] : Number.NaN);
      return [
        { name: 'p50', unit: 'µs', better: 'lower', pick: pick('p50') },
        { name: 'p99', unit: 'µs', better: 'lower', pick: pick('p99') },
      ];
    }
    case 'throughput':
      return [
        {
          name: '',
          unit: 'k req/s',
          better: 'higher',
          pick: (r) => (r.kind === 'throughput' ? r.requestsPerSecond / 1000 : Number.NaN),
        },
        {
          name: '',
          unit: 'MB/s',
          better: 'higher',
          pick: (r) => (r.kind === 'throughput' ? r.megabytesPerSecond : Number.NaN),
        },
      ];
    case 'events':
      return [
        {
          name: '',
          unit: 'k events/s',
          better: 'higher',
          pick: (r) => (r.kind === 'events' ? r.eventsPerSecond / 1000 : Number.NaN),
        },
      ];
    case 'connect':
      return [
        {
          name: '',
          unit: 'connections/s',
          better: 'higher',
          pick: (r) => (r.kind === 'connect' ? r.connectionsPerSecond : Number.NaN),
        },
      ];
    case 'warmup': {
      const { windowMs } = workload;
      return Array.from({ length: Math.ceil(workload.durationMs / windowMs) }, (_, window) => ({
        name: `${window * windowMs}-${(window + 1) * windowMs} ms`,
        unit: 'k req/s',
        better: 'higher',
        x: window * windowMs,
        pick: (r) => (r.kind === 'warmup' ? (r.requestsPerSecond[window] ?? Number.NaN) / 1000 : Number.NaN),
      }));
    }
    case 'fdcount':
      return workload.idle.map((idle) => ({
        name: `${idle} idle`,
        unit: 'µs',
        better: 'lower',
        x: idle,
        pick: (r) =>
          r.kind === 'fdcount' ? (r.points.find((point) => point.idle === idle)?.p50 ?? Number.NaN) : Number.NaN,
      }));
    case 'idle':
      return [
        {
          // From `connections` to twice as many: one-time costs landed with the first batch.
          name: `server RSS, ${workload.connections.toLocaleString('en-US')} to ${(2 * workload.connections).toLocaleString('en-US')}`,
          unit: 'KiB per connection',
          better: 'lower',
          pick: (r) => (r.kind === 'idle' ? r.kibPerConnection : Number.NaN),
        },
        {
          name: `server RSS, first ${workload.connections.toLocaleString('en-US')}`,
          unit: 'KiB per connection',
          better: 'lower',
          pick: (r) => (r.kind === 'idle' ? r.kibFirstBatch : Number.NaN),
        },
        {
          // Listening, before any client: what loading the stack costs a server process.
          name: 'server base RSS',
          unit: 'MiB',
          better: 'lower',
          pick: (r) => (r.kind === 'idle' ? r.rssBeforeKiB / 1024 : Number.NaN),
        },
      ];
  }
}

/** One row per workload and metric: medians of the repeats of every contender that ran, and ratios. */
export function rows(results: readonly WorkloadRuns[]): Row[] {
  const out: Row[] = [];
  for (const { workload, runs } of results) {
    for (const metric of metrics(workload)) {
      const values: Partial<Record<Contender, number>> = {};
      for (const [contender, list] of Object.entries(runs) as [Contender, WorkloadResult[]][])
        values[contender] = median(list.map(metric.pick));
      const floor = values[FLOOR] ?? Number.NaN;
      const ratios: Partial<Record<Contender, number>> = {};
      for (const [contender, value] of Object.entries(values) as [Contender, number][])
        ratios[contender] = value / floor;
      const label = [describe(workload), metric.name].filter((part) => part !== '').join(', ');
      const { unit, better, x } = metric;
      out.push({ workload, label, unit, better, ...(x === undefined ? {} : { x }), values, ratios });
    }
  }
  return out;
}

/** The comparisons with a row in `list`: a run filtered by `--workload` leaves the others empty. */
export function reported(list: readonly Row[]): Comparison[] {
  return COMPARISONS.filter((comparison) => list.some((row) => comparison.covers(row.workload)));
}

export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : '';
}

/**
 * The cells of one comparison: per row, each column's median with its ratio to the floor (or the
 * comparison's own reference); "n/a" where the contender cannot run, "-" where it did not run this
 * workload.
 */
export function cells(
  comparison: Comparison,
  list: readonly Row[],
  results: readonly WorkloadRuns[],
): { header: string[]; body: string[][] } {
  const header = ['workload', ...comparison.columns.map((contender) => LABEL[contender])];
  const reference = comparison.reference ?? FLOOR;
  const body = list
    .filter((row) => comparison.covers(row.workload))
    .map((row) => {
      const unavailable = results.find((entry) => entry.workload === row.workload)?.unavailable ?? {};
      return [
        `${row.label} (${row.unit}, ${row.better} is better)`,
        ...comparison.columns.map((contender) => {
          const value = row.values[contender];
          if (value === undefined) return unavailable[contender] === undefined ? '-' : 'n/a';
          const ratio = contender === reference ? '' : formatRatio(value / (row.values[reference] ?? Number.NaN));
          return ratio === '' ? formatValue(value) : `${formatValue(value)} (${ratio})`;
        }),
      ];
    });
  return { header, body };
}

/** Aligned Markdown-style text table of a comparison, for the terminal (and the report). */
export function table(comparison: Comparison, list: readonly Row[], results: readonly WorkloadRuns[]): string {
  const { header, body } = cells(comparison, list, results);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]): string =>
    `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

/**
 * Turning the runs into what a reader looks at: medians per metric, one text table per
 * comparison, and the rows written to bench/results/latest.json.
 */
import type { Comparison } from './comparisons.js';
import type { Contender } from './contenders.js';
import { median } from './stats.js';
import { describe, type Workload, type WorkloadResult } from './workloads.js';

export interface WorkloadRuns {
  readonly workload: Workload;
  /** Every run of each contender that ran this workload, in repeat order. */
  readonly runs: Partial<Record<Contender, WorkloadResult[]>>;
}

export interface Row {
  readonly label: string;
  readonly unit: string;
  /** Which direction is good, so the ratio columns can be read without guessing. */
  readonly better: 'lower' | 'higher';
  /** Median over the repeats, per contender. */
  readonly values: Partial<Record<Contender, number>>;
  /** Each non-baseline contender's median divided by the baseline's, keyed "contender/baseline". */
  readonly ratios: Record<string, number>;
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

/** The rows of one comparison: one per covered workload and shown metric, medians of the repeats. */
export function rows(comparison: Comparison, results: readonly WorkloadRuns[]): Row[] {
  const out: Row[] = [];
  for (const { workload, runs } of results) {
    if (!comparison.covers(workload)) continue;
    for (const metric of metrics(workload)) {
      if (comparison.units !== undefined && !comparison.units.includes(metric.unit)) continue;
      const values: Partial<Record<Contender, number>> = {};
      for (const { contender } of comparison.columns) values[contender] = median((runs[contender] ?? []).map(metric.pick));
      const base = values[comparison.baseline] ?? Number.NaN;
      const ratios: Record<string, number> = {};
      for (const { contender } of comparison.columns) {
        if (contender !== comparison.baseline) ratios[`${contender}/${comparison.baseline}`] = (values[contender] ?? Number.NaN) / base;
      }
      const label = [describe(workload), metric.name].filter((part) => part !== '').join(', ');
      out.push({ label, unit: metric.unit, better: metric.better, values, ratios });
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

/** The table of one comparison: each column's median, then each ratio to the baseline. */
export function table(comparison: Comparison, list: readonly Row[]): string {
  const { columns, baseline } = comparison;
  const others = columns.filter((column) => column.contender !== baseline);
  const baseShort = columns.find((column) => column.contender === baseline)?.short ?? baseline;
  const header = ['workload', ...columns.map((column) => column.header), ...others.map((column) => `ratio ${column.short}/${baseShort}`)];
  const body = list.map((row) => [
    `${row.label} (${row.unit}, ${row.better} is better)`,
    ...columns.map((column) => format(row.values[column.contender] ?? Number.NaN)),
    ...others.map((column) => {
      const ratio = row.ratios[`${column.contender}/${baseline}`] ?? Number.NaN;
      return Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : 'n/a';
    }),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

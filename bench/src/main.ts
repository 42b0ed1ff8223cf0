/**
 * The pollux benchmark: echo round-trip latency and pipelined throughput of pollux against a
 * hand-framed node:net baseline, and of pollux on each poller backend against NodePoller, server
 * and client in separate processes pinned to separate CPUs. Usage (from the repository root):
 * tsx bench/src/main.ts [--quick]. See bench/README.md.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPARISONS, contendersFor } from './comparisons.js';
import { backendOf, type Contender } from './contenders.js';
import { canPin, CLIENT_CPU, REPO_ROOT, runClient, scriptPath, SERVER_CPU, startServer } from './processes.js';
import { rows, table, type WorkloadRuns } from './report.js';
import { describe, workloads, type WorkloadResult } from './workloads.js';

const quick = process.argv.includes('--quick');
const repeats = quick ? 1 : 3;
// Generous: the slowest full run takes a few seconds; far beyond that means a hang.
const CLIENT_TIMEOUT_MS = 120_000;

if (!canPin) {
  console.log('note: taskset is unavailable or not permitted; server and client run UNPINNED');
} else {
  console.log(`server pinned to CPU ${SERVER_CPU}, client to CPU ${CLIENT_CPU} (of ${cpus().length})`);
}

let runNumber = 0;

/** The server process of a contender: the node:net server, or the pollux one on its backend. */
function serverCommand(contender: Contender, address: string): { file: string; args: string[] } {
  const backend = backendOf(contender);
  return backend === undefined
    ? { file: scriptPath('net-server.ts'), args: [address] }
    : { file: scriptPath('pollux-server.ts'), args: [address, backend] };
}

/** One run: a fresh server process, a client process running one workload, then teardown. */
async function runOnce(contender: Contender, spec: WorkloadRuns['workload']): Promise<WorkloadResult> {
  const address = join(tmpdir(), `pollux-bench-${process.pid}-${++runNumber}.sock`);
  const { file, args } = serverCommand(contender, address);
  const server = await startServer(file, args);
  try {
    return (await runClient([contender, address, JSON.stringify(spec)], CLIENT_TIMEOUT_MS)) as WorkloadResult;
  } finally {
    await server.stop();
    rmSync(address, { force: true });
  }
}

function summary(result: WorkloadResult): string {
  return result.kind === 'latency'
    ? `p50 ${result.p50.toFixed(1)} µs, p99 ${result.p99.toFixed(1)} µs, mean ${result.mean.toFixed(1)} µs`
    : `${(result.requestsPerSecond / 1000).toFixed(1)} k req/s, ${result.megabytesPerSecond.toFixed(1)} MB/s`;
}

const list = workloads(quick);
const results: WorkloadRuns[] = list.map((workload) => ({ workload, runs: {} }));
// Repeats are the outer loop and the contenders alternate inside it, so slow drift of the
// machine (thermal, noisy neighbours) spreads over all of them instead of biasing one.
for (let repeat = 1; repeat <= repeats; repeat++) {
  for (const entry of results) {
    for (const contender of contendersFor(entry.workload)) {
      const result = await runOnce(contender, entry.workload);
      (entry.runs[contender] ??= []).push(result);
      console.log(`run ${repeat}/${repeats}  ${describe(entry.workload).padEnd(22)} ${contender.padEnd(12)}  ${summary(result)}`);
    }
  }
}

const reports = COMPARISONS.map((comparison) => ({ comparison, rows: rows(comparison, results) }));
console.log(`\nmedians of ${repeats} run(s)${quick ? ' (--quick)' : ''}${canPin ? '' : ', UNPINNED'}:`);
for (const report of reports) {
  console.log(`\n${report.comparison.title}:\n`);
  console.log(table(report.comparison, report.rows));
}

const resultsDir = join(REPO_ROOT, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, 'latest.json');
writeFileSync(
  file,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      pinned: canPin ? { server: SERVER_CPU, client: CLIENT_CPU } : false,
      quick,
      repeats,
      comparisons: reports.map((report) => ({ id: report.comparison.id, title: report.comparison.title, baseline: report.comparison.baseline, rows: report.rows })),
      workloads: results,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${file}`);

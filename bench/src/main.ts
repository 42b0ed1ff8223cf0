/**
 * The pollux benchmark: echo round-trip latency and pipelined throughput of pollux against a
 * hand-framed node:net baseline, server and client in separate processes pinned to separate
 * CPUs. Usage (from the repository root): tsx bench/src/main.ts [--quick]. See bench/README.md.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { STACKS, type Stack } from './echo-client.js';
import { canPin, CLIENT_CPU, REPO_ROOT, runClient, scriptPath, SERVER_CPU, startServer } from './processes.js';
import { rows, table, type WorkloadRuns } from './report.js';
import { describe, workloads, type WorkloadResult } from './workloads.js';

const quick = process.argv.includes('--quick');
const repeats = quick ? 1 : 3;
// Generous: the slowest full run takes a few seconds; far beyond that means a hang.
const CLIENT_TIMEOUT_MS = 120_000;

const SERVER_SCRIPTS: Record<Stack, string> = {
  pollux: scriptPath('pollux-server.ts'),
  net: scriptPath('net-server.ts'),
};

if (!canPin) {
  console.log('note: taskset is unavailable or not permitted; server and client run UNPINNED');
} else {
  console.log(`server pinned to CPU ${SERVER_CPU}, client to CPU ${CLIENT_CPU} (of ${cpus().length})`);
}

let runNumber = 0;

/** One run: a fresh server process, a client process running one workload, then teardown. */
async function runOnce(stack: Stack, spec: WorkloadRuns['workload']): Promise<WorkloadResult> {
  const address = join(tmpdir(), `pollux-bench-${process.pid}-${++runNumber}.sock`);
  const server = await startServer(SERVER_SCRIPTS[stack], address);
  try {
    return (await runClient([stack, address, JSON.stringify(spec)], CLIENT_TIMEOUT_MS)) as WorkloadResult;
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
const results: WorkloadRuns[] = list.map((workload) => ({ workload, runs: { pollux: [], net: [] } }));
// Repeats are the outer loop and the two stacks alternate inside it, so slow drift of the
// machine (thermal, noisy neighbours) spreads over both stacks instead of biasing one.
for (let repeat = 1; repeat <= repeats; repeat++) {
  for (const entry of results) {
    for (const stack of STACKS) {
      const result = await runOnce(stack, entry.workload);
      entry.runs[stack].push(result);
      console.log(`run ${repeat}/${repeats}  ${describe(entry.workload).padEnd(22)} ${stack.padEnd(6)}  ${summary(result)}`);
    }
  }
}

const table_rows = rows(results);
console.log(`\nmedians of ${repeats} run(s)${quick ? ' (--quick)' : ''}${canPin ? '' : ', UNPINNED'}:\n`);
console.log(table(table_rows));

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
      table: table_rows,
      workloads: results,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${file}`);

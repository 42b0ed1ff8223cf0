/**
 * The pollux benchmark: pollux on each poller backend and the IPC stacks a user would pick
 * instead (hand-framed node:net, a C echo server, node-ipc, vscode-jsonrpc, zeromq, grpc-js), each
 * as a server process and a client process pinned to separate CPUs, over Unix sockets. Usage
 * (from the repository root): tsx bench/src/main.ts [--quick] [--repeats N] [--only c1,c2]
 * [--workload k1,k2] [--cpu-prof dir]. See bench/README.md.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chart } from './charts.js';
import { COMPARISONS, contendersFor, FLOOR } from './comparisons.js';
import { CONTENDERS, parseContender, type Contender } from './contenders.js';
import { describeMachine } from './machine.js';
import { markdownReport } from './markdown.js';
import { Progress } from './progress.js';
import {
  canPin,
  CLIENT_CPU,
  profileInto,
  REPO_ROOT,
  rssKiB,
  runClient,
  SERVER_CPU,
  startHolder,
  startServer,
  type ServerProcess,
} from './processes.js';
import { rows, table, type WorkloadRuns } from './report.js';
import { ensurePeers } from './peers.js';
import { prepareServers, serverProgram } from './servers.js';
import {
  describe,
  slug,
  workloads,
  type IdleResult,
  type IdleWorkload,
  type TimedWorkload,
  type Workload,
  type WorkloadResult,
} from './workloads.js';

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    repeats: { type: 'string' },
    only: { type: 'string' },
    workload: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const quick = options.quick;
const repeats = options.repeats === undefined ? (quick ? 1 : 3) : Number(options.repeats);
const only = options.only?.split(',').map(parseContender);
/** Workload kinds (`throughput`) or single workloads by chart name (`pipelined-64-b-x64`). */
const kinds = options.workload?.split(',');
if (options['cpu-prof'] !== undefined) profileInto(options['cpu-prof']);
// Generous: the slowest full run takes seconds; far beyond that means a hang.
const CLIENT_TIMEOUT_MS = 120_000;
/** Holder processes the idle clients are spread over, so no client process holds too many fds. */
const HOLDERS = 4;

let runNumber = 0;
function socketPath(): string {
  return join(tmpdir(), `pollux-bench-${process.pid}-${++runNumber}.sock`);
}

/** With a server of `contender` listening at a fresh socket path, runs `use`, then tears down. */
async function withServer<T>(
  contender: Contender,
  use: (address: string, server: ServerProcess) => Promise<T>,
): Promise<T> {
  const address = socketPath();
  const server = await startServer(serverProgram(contender, address));
  try {
    return await use(address, server);
  } finally {
    await server.stop();
    rmSync(address, { force: true });
  }
}

type ClientOutcome = { readonly result: WorkloadResult } | { readonly error: string };

/** Runs the timed workloads in one client process, reporting each as it finishes. */
async function runTimed(
  contender: Contender,
  address: string,
  list: readonly TimedWorkload[],
  onResult: (index: number, outcome: ClientOutcome) => void,
): Promise<void> {
  let index = 0;
  await runClient([contender, address, JSON.stringify(list)], CLIENT_TIMEOUT_MS, (outcome) =>
    onResult(index++, outcome as ClientOutcome),
  );
}

/**
 * Server RSS with `workload.connections` idle clients connected, minus before, on a fresh
 * server. A short connect run first takes the server through every path a connection uses, so
 * one-time costs (lazy loading, JIT) are not counted per connection; the server collects garbage
 * until its RSS settles before each reading.
 */
async function idle(
  contender: Contender,
  address: string,
  server: ServerProcess,
  workload: IdleWorkload,
): Promise<IdleResult> {
  const prime: TimedWorkload = {
    kind: 'connect',
    size: workload.size,
    count: 50,
    warmup: 0,
    warmupMs: 0,
    maxMs: 10_000,
  };
  await runTimed(contender, address, [prime], (_, outcome) => {
    if ('error' in outcome) throw new Error(outcome.error);
  });
  await server.settle();
  const rssBeforeKiB = rssKiB(server.pid);
  const share = Math.ceil(workload.connections / HOLDERS);
  const started = await Promise.allSettled(
    Array.from({ length: HOLDERS }, (_, i) => {
      const connections = Math.min(share, workload.connections - i * share);
      return startHolder([contender, address, JSON.stringify({ kind: 'hold', connections })], CLIENT_TIMEOUT_MS);
    }),
  );
  try {
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    await server.settle();
    const rssAfterKiB = rssKiB(server.pid);
    return {
      kind: 'idle',
      connections: workload.connections,
      rssBeforeKiB,
      rssAfterKiB,
      kibPerConnection: (rssAfterKiB - rssBeforeKiB) / workload.connections,
    };
  } finally {
    await Promise.all(started.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.stop() : undefined)));
  }
}

/** The first line of an error, for a progress line and the n/a reason. */
function firstLineOf(error: unknown): string {
  return (
    (error instanceof Error ? error.message : String(error)).split('\n').find((line) => line.trim() !== '') ?? 'failed'
  );
}

function summary(result: WorkloadResult): string {
  switch (result.kind) {
    case 'latency':
      return `p50 ${result.p50.toFixed(1)} µs, p99 ${result.p99.toFixed(1)} µs, mean ${result.mean.toFixed(1)} µs`;
    case 'throughput':
      return `${(result.requestsPerSecond / 1000).toFixed(1)} k req/s, ${result.megabytesPerSecond.toFixed(1)} MB/s (${result.count} in ${result.seconds.toFixed(2)} s)`;
    case 'events':
      return `${(result.eventsPerSecond / 1000).toFixed(1)} k events/s (${result.count} in ${result.seconds.toFixed(2)} s)`;
    case 'connect':
      return `${result.connectionsPerSecond.toFixed(0)} connections/s (${result.count} in ${result.seconds.toFixed(2)} s)`;
    case 'idle':
      return `${result.kibPerConnection.toFixed(1)} KiB per connection (RSS ${result.rssBeforeKiB} -> ${result.rssAfterKiB} KiB)`;
  }
}

ensurePeers();
const { unavailable, libzmq } = prepareServers();
const machine = describeMachine(process.argv.slice(2), libzmq);
console.log(
  canPin
    ? `server pinned to CPU ${SERVER_CPU}, client to CPU ${CLIENT_CPU} (of ${machine.cpus})`
    : 'note: taskset is unavailable or not permitted; server and client run UNPINNED',
);
for (const [contender, reason] of Object.entries(unavailable)) console.log(`note: ${contender} is n/a: ${reason}`);

const selected = workloads(quick).filter(
  (workload) => kinds === undefined || kinds.includes(workload.kind) || kinds.includes(slug(workload)),
);
const results: WorkloadRuns[] = selected.map((workload) => ({ workload, runs: {}, unavailable: {} }));
// The floor runs whenever anything does: every figure is shown as a ratio to it.
const contendersOf = (workload: Workload): Contender[] =>
  contendersFor(workload).filter((contender) => only === undefined || only.includes(contender) || contender === FLOOR);
const order = CONTENDERS.filter((contender) =>
  results.some(({ workload }) => contendersOf(workload).includes(contender)),
);
const planned =
  repeats *
  results.reduce(
    (sum, { workload }) => sum + contendersOf(workload).filter((c) => unavailable[c] === undefined).length,
    0,
  );
const progress = new Progress(planned);

function label(repeat: number, workload: Workload, contender: Contender): string {
  return `run ${repeat}/${repeats}  ${contender.padEnd(12)} ${describe(workload).padEnd(30)}`;
}

function record(repeat: number, entry: WorkloadRuns, contender: Contender, outcome: ClientOutcome): void {
  const what = label(repeat, entry.workload, contender);
  if ('result' in outcome) {
    (entry.runs[contender] ??= []).push(outcome.result);
    progress.end(`${what}  ${summary(outcome.result)}`);
  } else {
    // A stack that fails a workload is reported n/a with its error rather than ending the bench.
    const message = firstLineOf(outcome.error);
    entry.unavailable[contender] = `failed on ${describe(entry.workload)}: ${message}`;
    progress.end(`${what}  FAILED: ${message}`);
  }
}

// Repeats are the outer loop and the contenders alternate inside it, so slow drift of the
// machine (thermal, noisy neighbours) spreads over all of them instead of biasing one.
for (let repeat = 1; repeat <= repeats; repeat++) {
  for (const contender of order) {
    const reason = unavailable[contender];
    const mine = results.filter(({ workload }) => contendersOf(workload).includes(contender));
    if (reason !== undefined) {
      for (const entry of mine) entry.unavailable[contender] = reason;
      continue;
    }
    // A workload that failed in an earlier repeat is not retried: its n/a reason stands.
    for (const entry of mine) if (entry.unavailable[contender] !== undefined) progress.skip();
    const pending = mine.filter((entry) => entry.unavailable[contender] === undefined);
    const timed = pending.filter((entry) => entry.workload.kind !== 'idle');
    const idleEntry = pending.find((entry) => entry.workload.kind === 'idle');
    // One server per contender and repeat for the timed workloads, run in one client process;
    // the idle workload gets a fresh server, so garbage of the timed runs is not in its memory.
    try {
      if (timed.length > 0) {
        await withServer(contender, async (address) => {
          progress.begin(label(repeat, timed[0]!.workload, contender));
          try {
            await runTimed(
              contender,
              address,
              timed.map((entry) => entry.workload as TimedWorkload),
              (index, outcome) => {
                record(repeat, timed[index]!, contender, outcome);
                const next = timed[index + 1];
                if (next !== undefined) progress.begin(label(repeat, next.workload, contender));
              },
            );
          } catch (error) {
            // The client died or hung: what it had not reported yet is n/a.
            for (const entry of timed) {
              if ((entry.runs[contender]?.length ?? 0) < repeat && entry.unavailable[contender] === undefined) {
                record(repeat, entry, contender, { error: firstLineOf(error) });
              }
            }
          }
        });
      }
      if (idleEntry !== undefined) {
        progress.begin(label(repeat, idleEntry.workload, contender));
        const result = await withServer(contender, (address, server) =>
          idle(contender, address, server, idleEntry.workload as IdleWorkload),
        );
        record(repeat, idleEntry, contender, { result });
      }
    } catch (error) {
      // The server did not start or the idle workload failed.
      for (const entry of pending) {
        if ((entry.runs[contender]?.length ?? 0) < repeat && entry.unavailable[contender] === undefined) {
          record(repeat, entry, contender, { error: firstLineOf(error) });
        }
      }
    }
  }
}
progress.finish();

const list = rows(results);
console.log(
  `\nmedians of ${repeats} run(s)${quick ? ' (--quick)' : ''}${canPin ? '' : ', UNPINNED'}; (ratio) = median / node:net median:`,
);
for (const comparison of COMPARISONS) {
  console.log(`\n${comparison.title}:\n`);
  console.log(table(comparison, list, results));
}

const resultsDir = join(REPO_ROOT, 'bench', 'results');
const chartsDir = join(resultsDir, 'charts');
rmSync(chartsDir, { recursive: true, force: true });
mkdirSync(chartsDir, { recursive: true });
for (const { workload } of results) {
  writeFileSync(
    join(chartsDir, `${slug(workload)}.svg`),
    chart(
      describe(workload),
      list.filter((row) => row.workload === workload),
    ),
  );
}
writeFileSync(join(resultsDir, 'report.md'), markdownReport(machine, repeats, quick, list, results));
writeFileSync(
  join(resultsDir, 'latest.json'),
  `${JSON.stringify({ ...machine, quick, repeats, rows: list.map(({ workload: _, ...row }) => row), workloads: results }, null, 2)}\n`,
);
console.log(`\nwrote ${resultsDir}/latest.json, report.md and charts/`);

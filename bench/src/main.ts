/**
 * The pollux benchmark: pollux on each poller backend and the IPC stacks a user would pick
 * instead (hand-framed node:net, a C echo server, node-ipc, vscode-jsonrpc, zeromq, grpc-js) or
 * that pollux measures itself against (libqb over shm and over sockets), each as a server process
 * and a client process pinned to separate CPUs (to the same one with --one-cpu). Usage
 * (from the repository root): tsx bench/src/main.ts [--quick] [--repeats N] [--only c1,c2]
 * [--workload k1,k2] [--cpu-prof dir] [--one-cpu]. See bench/README.md.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chart } from './charts.js';
import { compileScripts } from './compiled-scripts.js';
import { contendersFor, FLOOR } from './comparisons.js';
import { CONTENDERS, parseContender, type Contender } from './contenders.js';
import { fdCount, idle, idleWithinFdLimit, withinFdLimit } from './idle-connections.js';
import { describeMachine } from './machine.js';
import { markdownReport } from './markdown.js';
import { Progress } from './progress.js';
import {
  canPin,
  CLIENT_CPU,
  openFileLimit,
  BENCH_DIR,
  profileInto,
  REPO_ROOT,
  runOne,
  runWorkloads,
  SERVER_CPU,
  shareServerCpu,
  startServer,
  type ClientOutcome,
  type ServerProcess,
} from './processes.js';
import { reported, rows, table, type WorkloadRuns } from './report.js';
import { ensurePeers, PEERS_DIR } from './peers.js';
import { prepareServers, serverProgram } from './servers.js';
import {
  describe,
  sharesServer,
  slug,
  workloads,
  type TimedWorkload,
  type Workload,
  type WorkloadResult,
} from './workloads.js';

const USAGE = `usage: pnpm bench [options]   (see bench/README.md)
  --quick            1 repeat and small counts: a smoke test of about 2 minutes
  --repeats N        runs of each workload (default 3; 1 with --quick); the report shows medians
  --only c1,c2       contenders to run besides node:net, the floor, which always runs:
                     ${CONTENDERS.join(', ')}
  --workload k1,k2   workload kinds (${[...new Set(workloads(false).map((workload) => workload.kind))].join(', ')})
                     or single workloads by chart name (pipelined-64-b-x64)
  --cpu-prof DIR     run every Node server and client with --cpu-prof into DIR/server, DIR/client
  --one-cpu          pin server and client to the same CPU (CPU 0)
  --help             this text`;

function parseOptions() {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        repeats: { type: 'string' },
        only: { type: 'string' },
        workload: { type: 'string' },
        'cpu-prof': { type: 'string' },
        'one-cpu': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    return usageError(firstLineOf(error));
  }
}

const options = parseOptions();
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
/** Ends the run with `problem` and the usage text: a mistyped option must not run a 20-minute bench. */
function usageError(problem: string): never {
  console.error(`${problem}\n\n${USAGE}`);
  process.exit(2);
}

const quick = options.quick;
const repeats = options.repeats === undefined ? (quick ? 1 : 3) : Number(options.repeats);
if (!Number.isInteger(repeats) || repeats < 1)
  usageError(`--repeats must be a whole number of at least 1, got ${options.repeats}`);
const only = options.only?.split(',').map((name) => {
  try {
    return parseContender(name);
  } catch (error) {
    return usageError(firstLineOf(error));
  }
});
/** Workload kinds (`throughput`) or single workloads by chart name (`pipelined-64-b-x64`). */
const kinds = options.workload?.split(',');
const known = workloads(quick).flatMap((workload) => [workload.kind, slug(workload)]);
for (const kind of kinds ?? []) {
  if (!known.includes(kind))
    usageError(`unknown workload ${JSON.stringify(kind)}: a kind or one of ${[...new Set(known)].join(', ')}`);
}
if (options['cpu-prof'] !== undefined) profileInto(options['cpu-prof']);
if (options['one-cpu']) shareServerCpu();

let runNumber = 0;
function socketPath(): string {
  return join(tmpdir(), `pollux-bench-${process.pid}-${++runNumber}.sock`);
}

/** With a server of `contender` listening at a fresh socket path, runs `use`, then tears down. */
async function withServer<T>(
  contender: Contender,
  workloads: readonly Workload[],
  use: (address: string, server: ServerProcess) => Promise<T>,
): Promise<T> {
  const address = socketPath();
  const server = await startServer(serverProgram(contender, address, workloads));
  try {
    return await use(address, server);
  } finally {
    await server.stop();
    rmSync(address, { force: true });
  }
}

/** A workload that does not share a server runs alone on a fresh one (and fresh clients). */
function runAlone(
  contender: Contender,
  address: string,
  server: ServerProcess,
  workload: Workload,
): Promise<WorkloadResult> {
  switch (workload.kind) {
    case 'idle':
      return idle(contender, address, server, workload);
    case 'fdcount':
      return fdCount(contender, address, workload);
    default:
      return runOne(contender, address, workload);
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
    case 'warmup': {
      const { requestsPerSecond: rates, windowMs } = result;
      const kilo = (rate: number | undefined): string => `${((rate ?? Number.NaN) / 1000).toFixed(1)} k req/s`;
      const mean = rates.reduce((sum, rate) => sum + rate, 0) / rates.length;
      return `first ${windowMs} ms ${kilo(rates[0])}, last ${windowMs} ms ${kilo(rates.at(-1))}, all ${kilo(mean)}`;
    }
    case 'idle':
      return `${result.kibPerConnection.toFixed(1)} KiB per connection, ${result.kibFirstBatch.toFixed(1)} over the first ${result.connections} (RSS ${result.rssBeforeKiB} -> ${result.rssFirstKiB} -> ${result.rssAfterKiB} KiB)`;
    case 'fdcount':
      return `p50 ${result.points.map(({ idle, p50 }) => `${p50.toFixed(1)} µs beside ${idle}`).join(', ')} idle`;
  }
}

ensurePeers();
compileScripts([BENCH_DIR, PEERS_DIR]);
const { unavailable, libzmq } = prepareServers();
const machine = describeMachine(process.argv.slice(2), libzmq);
console.log(
  canPin
    ? `server pinned to CPU ${SERVER_CPU}, client to CPU ${CLIENT_CPU} (of ${machine.cpus})`
    : 'note: taskset is unavailable or not permitted; server and client run UNPINNED',
);
for (const [contender, reason] of Object.entries(unavailable)) console.log(`note: ${contender} is n/a: ${reason}`);

/** What the report says beside the tables: workloads this machine could not run in full. */
const notes: string[] = [];
const openFiles = openFileLimit();
const selected = workloads(quick)
  .filter((workload) => kinds === undefined || kinds.includes(workload.kind) || kinds.includes(slug(workload)))
  .map((workload) => {
    if (workload.kind !== 'fdcount' && workload.kind !== 'idle') return workload;
    const fitted =
      workload.kind === 'idle' ? idleWithinFdLimit(workload, openFiles) : withinFdLimit(workload, openFiles);
    if (fitted.leftOut !== undefined) notes.push(fitted.leftOut);
    return fitted.workload;
  });
for (const note of notes) console.log(`note: ${note}`);
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
    /** Records a failure for each of `entries` that has no outcome in this repeat yet. */
    const failUnrecorded = (entries: readonly WorkloadRuns[], error: unknown): void => {
      for (const entry of entries) {
        if ((entry.runs[contender]?.length ?? 0) < repeat && entry.unavailable[contender] === undefined) {
          record(repeat, entry, contender, { error: firstLineOf(error) });
        }
      }
    };
    // One server per contender and repeat for the round trips, run in one client process; every
    // other workload gets a fresh server (and clients) of its own (see sharesServer).
    const sharing = (entry: WorkloadRuns): boolean => sharesServer(entry.workload);
    const shared = pending.filter(sharing);
    if (shared.length > 0) {
      try {
        await withServer(
          contender,
          shared.map((entry) => entry.workload),
          async (address) => {
            progress.begin(label(repeat, shared[0]!.workload, contender));
            await runWorkloads(
              contender,
              address,
              shared.map((entry) => entry.workload as TimedWorkload),
              (index, outcome) => {
                record(repeat, shared[index]!, contender, outcome);
                const next = shared[index + 1];
                if (next !== undefined) progress.begin(label(repeat, next.workload, contender));
              },
            );
          },
        );
      } catch (error) {
        // The server did not start, or the client died or hung: what it had not reported is n/a.
        failUnrecorded(shared, error);
      }
    }
    for (const entry of pending.filter((entry) => !sharing(entry))) {
      progress.begin(label(repeat, entry.workload, contender));
      try {
        const result = await withServer(contender, [entry.workload], (address, server) =>
          runAlone(contender, address, server, entry.workload),
        );
        record(repeat, entry, contender, { result });
      } catch (error) {
        failUnrecorded([entry], error);
      }
    }
  }
}
progress.finish();

const list = rows(results);
console.log(
  `\nmedians of ${repeats} run(s)${quick ? ' (--quick)' : ''}${canPin ? '' : ', UNPINNED'}; (ratio) = median / node:net median:`,
);
for (const comparison of reported(list)) {
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
    await chart(
      describe(workload),
      list.filter((row) => row.workload === workload),
    ),
  );
}
writeFileSync(join(resultsDir, 'report.md'), markdownReport(machine, repeats, quick, list, results, notes));
writeFileSync(
  join(resultsDir, 'latest.json'),
  `${JSON.stringify({ ...machine, quick, repeats, rows: list.map(({ workload: _, ...row }) => row), workloads: results }, null, 2)}\n`,
);
console.log(`\nwrote ${resultsDir}/latest.json, report.md and charts/`);

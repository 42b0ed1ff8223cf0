/**
 * Starting and stopping the server and client processes of a run, pinned to CPUs when possible,
 * talking to them in lines over stdout, and reading a server's memory.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledScript } from './compiled-scripts.js';
import type { Contender } from './contenders.js';
import { isLibqb, libqbClient } from './libqb.js';
import type { HoldSpec, TimedWorkload, WorkloadResult } from './workloads.js';

/** Repository root, where children run. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The bench's directory: its scripts are in src/, compiled to dist/ (see compiled-scripts.ts). */
export const BENCH_DIR = join(REPO_ROOT, 'bench');

export const SERVER_CPU = 0;
/** The CPU clients run on: 1, or the server's own with `--one-cpu` (see {@link shareServerCpu}). */
export let CLIENT_CPU = 1;

/**
 * Pins clients to the server's CPU from now on (`--one-cpu`): a round trip then costs the software
 * on both sides and a same-CPU context switch, without the cross-CPU wake-up that dominates it
 * otherwise.
 */
export function shareServerCpu(): void {
  CLIENT_CPU = SERVER_CPU;
}

/**
 * Whether `taskset` exists and may set affinity here (containers can forbid it), checked once.
 * Pinning keeps both processes from migrating and makes every round trip a cross-CPU wake-up,
 * the situation the DESIGN.md figures were measured in.
 */
export const canPin: boolean = (() => {
  const probe = spawnSync('taskset', ['-c', String(CLIENT_CPU), 'true'], { stdio: 'ignore' });
  return probe.status === 0;
})();

/** The compiled script a child runs for `name` of bench/src (`client-main.ts`). */
export function scriptPath(name: string): string {
  return compiledScript(BENCH_DIR, name);
}

/**
 * What a server or client process runs: one of the bench's compiled scripts, or a native binary
 * (the C reference server).
 */
export type Program =
  | { readonly script: string; readonly args: readonly string[] }
  | { readonly binary: string; readonly args: readonly string[] };

/** Where Node children write CPU profiles (`--cpu-prof`), per role; undefined: not profiling. */
let profileDir: string | undefined;

/** Makes every Node server and client started from now on write a CPU profile into `dir`. */
export function profileInto(dir: string): void {
  profileDir = dir;
}

function profileFlags(role: 'server' | 'client'): string[] {
  return profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, role)}`];
}

/** A child process and the lines it prints on stdout, read one at a time. */
class Child {
  readonly process: ChildProcess;
  readonly #lines: string[] = [];
  #partial = '';
  #stderr = '';
  #wake: (() => void) | undefined;

  constructor(
    program: Program,
    role: 'server' | 'client',
    readonly what: string,
  ) {
    // --expose-gc lets a Node server collect garbage before its memory is read (settle()).
    // The pollux-compiled condition loads pollux's packages from bundle/, what the build made and
    // npm ships, not from src/: tsx's transform names every function it creates (esbuild's
    // keepNames), which costs each connection's closures time and memory a user of the package
    // never pays. No loader either: see compiled-scripts.ts for what tsx's cost the children.
    const node = [process.execPath, '--expose-gc', '--conditions=pollux-compiled', ...profileFlags(role)];
    const command =
      'script' in program ? [...node, program.script, ...program.args] : [program.binary, ...program.args];
    // taskset execs the program, so the child's pid is the program's own: kill() reaches it
    // directly and /proc/<pid> is its memory.
    const cpu = role === 'server' ? SERVER_CPU : CLIENT_CPU;
    const [file, ...rest] = canPin ? ['taskset', '-c', String(cpu), ...command] : command;
    this.process = spawn(file as string, rest, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    this.process.stdout?.on('data', (chunk: Buffer) => {
      const parts = (this.#partial + chunk.toString()).split('\n');
      this.#partial = parts.pop() ?? '';
      this.#lines.push(...parts);
      this.#wake?.();
    });
    this.process.stderr?.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    this.process.once('exit', () => this.#wake?.());
  }

  get exited(): boolean {
    return this.process.exitCode !== null || this.process.signalCode !== null;
  }

  /**
   * The next line, or undefined once the process exited without printing more. If nothing comes
   * within `timeoutMs` the process is killed and this rejects: a hang is reported, not waited out.
   */
  async next(timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0 && !this.exited) {
      const left = deadline - Date.now();
      if (left <= 0) {
        this.process.kill('SIGKILL');
        throw new Error(`${this.what} printed nothing for ${timeoutMs} ms\n${this.#stderr}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#lines.shift();
  }

  /** Like next(), but the process ending first is an error quoting its stderr. */
  async expect(timeoutMs: number): Promise<string> {
    const line = await this.next(timeoutMs);
    if (line === undefined) {
      const { exitCode, signalCode } = this.process;
      throw new Error(`${this.what} exited (code ${exitCode}, signal ${signalCode})\n${this.#stderr}`);
    }
    return line;
  }

  failure(): string {
    return `${this.what} failed (code ${this.process.exitCode}, signal ${this.process.signalCode})\n${this.#stderr}`;
  }

  /** Ends it: closing stdin is enough for a holder, SIGTERM for a server, SIGKILL if it hangs. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.stdin?.end();
    this.process.kill('SIGTERM');
    const killer = setTimeout(() => this.process.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  }
}

export interface ServerProcess {
  /** The server's own pid (taskset execs it), for reading its memory. */
  readonly pid: number;
  /** Asks the server to collect garbage (Node) and resolves once it has: see server-lifecycle.ts. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

const SERVER_TIMEOUT_MS = 20_000;

/** Starts a server and resolves once it printed "ready", i.e. it is listening. */
export async function startServer(program: Program): Promise<ServerProcess> {
  const child = new Child(program, 'server', `server ${JSON.stringify(program)}`);
  const expectLine = async (wanted: string): Promise<void> => {
    const line = await child.expect(SERVER_TIMEOUT_MS);
    if (line !== wanted) throw new Error(`${child.what} printed ${JSON.stringify(line)} instead of "${wanted}"`);
  };
  try {
    await expectLine('ready');
  } catch (error) {
    await child.stop();
    throw error;
  }
  return {
    pid: child.process.pid ?? -1,
    settle: async () => {
      child.process.kill('SIGUSR2');
      await expectLine('settled');
    },
    stop: () => child.stop(),
  };
}

/** Generous: the slowest full run takes seconds; far beyond that means a hang. */
const CLIENT_TIMEOUT_MS = 120_000;

/**
 * Starts a holder of idle connections (client-main.ts with a hold spec) and resolves once it
 * holds `connections` of `contender`'s to `address`; stopping it closes them all.
 */
export async function startHolder(
  contender: Contender,
  address: string,
  connections: number,
): Promise<{ stop(): Promise<void> }> {
  const spec: HoldSpec = { kind: 'hold', connections };
  const child = new Child(
    { script: scriptPath('client-main.ts'), args: [contender, address, JSON.stringify(spec)] },
    'client',
    `${contender} holder`,
  );
  try {
    await child.expect(CLIENT_TIMEOUT_MS);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return { stop: () => child.stop() };
}

/** What a client process reports for one workload: its result, or why it failed. */
export type ClientOutcome = { readonly result: WorkloadResult } | { readonly error: string };

/**
 * Runs `list` in one client process of `contender` (client-main.ts, or libqb's C program), one
 * workload after the other, handing over each outcome as the client prints it. A client that
 * prints nothing for CLIENT_TIMEOUT_MS is killed and reported as a hang rather than stalling the
 * bench.
 */
export async function runWorkloads(
  contender: Contender,
  address: string,
  list: readonly TimedWorkload[],
  onOutcome: (index: number, outcome: ClientOutcome) => void,
): Promise<void> {
  // libqb has no Node binding: its C program is its client (libqb.ts).
  const program: Program = isLibqb(contender)
    ? libqbClient(address, list)
    : { script: scriptPath('client-main.ts'), args: [contender, address, JSON.stringify(list)] };
  // Named by contender only: the workload list would drown the error.
  const child = new Child(program, 'client', `${contender} client`);
  child.process.stdin?.end();
  let index = 0;
  for (let line = await child.next(CLIENT_TIMEOUT_MS); line !== undefined; line = await child.next(CLIENT_TIMEOUT_MS))
    onOutcome(index++, JSON.parse(line) as ClientOutcome);
  if (child.process.exitCode !== 0) throw new Error(child.failure());
}

/** Runs one workload in a fresh client process of `contender`: its result, or its error thrown. */
export async function runOne(contender: Contender, address: string, workload: TimedWorkload): Promise<WorkloadResult> {
  const outcomes: ClientOutcome[] = [];
  await runWorkloads(contender, address, [workload], (_, outcome) => outcomes.push(outcome));
  const outcome = outcomes[0] ?? { error: 'the client printed no result' };
  if ('error' in outcome) throw new Error(outcome.error);
  return outcome.result;
}

/**
 * The most fds a process the bench starts may open. Children inherit the bench's limits, and
 * Node raises its soft RLIMIT_NOFILE to the hard limit at start-up (so `ulimit -n` in the shell
 * that starts the bench does not lower it; the hard limit, `ulimit -Hn`, does).
 */
export function openFileLimit(): number {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  if (match === null) throw new Error('no "Max open files" in /proc/self/limits');
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}

/** Resident set size of a process, in KiB (VmRSS of /proc/<pid>/status). */
export function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

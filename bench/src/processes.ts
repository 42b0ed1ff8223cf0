/**
 * Starting and stopping the server and client processes of a run, pinned to CPUs when possible.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Repository root: children run there so that `--import tsx` resolves the workspace's tsx. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const SERVER_CPU = 0;
export const CLIENT_CPU = 1;

/**
 * Whether `taskset` exists and may set affinity here (containers can forbid it), checked once.
 * Pinning keeps both processes from migrating and makes every round trip a cross-CPU wake-up,
 * the situation the DESIGN.md figures were measured in.
 */
export const canPin: boolean = (() => {
  const probe = spawnSync('taskset', ['-c', String(CLIENT_CPU), 'true'], { stdio: 'ignore' });
  return probe.status === 0;
})();

export function scriptPath(name: string): string {
  return fileURLToPath(new URL(name, import.meta.url));
}

/** Runs a TypeScript file in a new Node process through tsx's loader, on `cpu` if pinning works. */
function spawnScript(file: string, args: readonly string[], cpu: number): ChildProcess {
  const node = [process.execPath, '--import', 'tsx', file, ...args];
  // taskset execs node, so the child's pid is node's own and kill() reaches it directly.
  const [command, ...rest] = canPin ? ['taskset', '-c', String(cpu), ...node] : node;
  return spawn(command as string, rest, { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface ServerProcess {
  stop(): Promise<void>;
}

/**
 * Starts a server script with `args` (the socket path first) and resolves once it printed
 * "ready", i.e. it is listening.
 */
export function startServer(file: string, args: readonly string[], timeoutMs = 20_000): Promise<ServerProcess> {
  const child = spawnScript(file, args, SERVER_CPU);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server ${file} not ready after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!stdout.includes('ready\n')) return;
      clearTimeout(timer);
      resolve({
        async stop() {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`server ${file} exited before ready (code ${code}, signal ${signal})\n${stderr}`));
    });
  });
}

/**
 * Runs the client script to completion and parses the JSON line it printed. A run that takes
 * longer than `timeoutMs` is killed and reported as a hang rather than stalling the bench.
 */
export function runClient(args: readonly string[], timeoutMs: number): Promise<unknown> {
  const child = spawnScript(scriptPath('client-main.ts'), args, CLIENT_CPU);
  child.stdin?.end();
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) return reject(new Error(`client hung: no result after ${timeoutMs} ms (args ${args.join(' ')})\n${stderr}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') {
        return reject(new Error(`client failed (code ${code}, signal ${signal}; args ${args.join(' ')})\n${stderr}`));
      }
      resolve(JSON.parse(line));
    });
  });
}

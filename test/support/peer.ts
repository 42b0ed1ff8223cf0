import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { inject } from 'vitest';

/** A JSON line a fixture process printed. */
export type PeerMessage = { readonly type: string } & Record<string, unknown>;

/** A fixture running in its own process, talking to the test through JSON lines on stdout. */
export interface Peer {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the next message of `type`; rejects if the process exits first. */
  next(type: string): Promise<PeerMessage>;
  /** Resolves when the process has exited and its stdio is closed. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Starts `test/fixtures/<fixture>.ts` with `args` in a new Node.js process (optionally as another
 * user, with extra environment and inherited fds), collecting the JSON lines it prints. The bundle
 * the global setup built is started when there is one (a fraction of tsx's start-up time), the
 * source through tsx otherwise. With `stdin`, the test can write to the fixture's standard input. `fds` are passed
 * on as the fixture's fds 3, 4, …; `wrapper` is a command line that runs `node` with its arguments
 * (such as `systemd-socket-activate … --`), placed before them. With `launch`, the process is
 * started by it instead of `child_process.spawn` (e.g. `spawnWithChannel`).
 */
export function spawnPeer(
  fixture: string,
  args: readonly string[],
  options: {
    uid?: number;
    gid?: number;
    env?: Record<string, string>;
    stdin?: boolean;
    fds?: readonly number[];
    wrapper?: readonly string[];
    launch?: (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;
  } = {},
): Peer {
  const bundle = inject('fixtureBundles')?.[fixture];
  const entry =
    bundle === undefined
      ? ['--import', 'tsx', fileURLToPath(new URL(`../fixtures/${fixture}.ts`, import.meta.url))]
      : [bundle];
  const [command, ...commandArgs] = [...(options.wrapper ?? []), process.execPath, ...entry, ...args];
  const child = (options.launch ?? spawn)(command!, commandArgs, {
    // A bundle runs from its own directory, which every user may enter; tsx needs the checkout.
    cwd: bundle === undefined ? repoRoot : dirname(bundle),
    stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'inherit', ...(options.fds ?? [])],
    env: { ...process.env, ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
  const inbox: PeerMessage[] = [];
  const waiting: { type: string; resolve: (m: PeerMessage) => void; reject: (e: Error) => void }[] = [];
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  createInterface({ input: child.stdout! }).on('line', (line) => {
    let message: PeerMessage;
    try {
      message = JSON.parse(line) as PeerMessage;
    } catch {
      return; // not ours: a stray log line
    }
    const at = waiting.findIndex((w) => w.type === message.type);
    if (at >= 0) waiting.splice(at, 1)[0]!.resolve(message);
    else inbox.push(message);
  });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      exitInfo = { code, signal };
      for (const w of waiting.splice(0))
        w.reject(new Error(`fixture ${fixture} exited (${code ?? signal}) before sending "${w.type}"`));
      const stdin = child.stdin;
      if (stdin === null || stdin.closed) {
        resolve(exitInfo);
        return;
      }
      // Node closes our end of a dead child's stdin only when told: its fd would outlive the test.
      stdin.on('error', () => undefined);
      stdin.once('close', () => resolve(exitInfo!));
      stdin.destroy();
    });
  });

  return {
    child,
    pid: child.pid!,
    exited,
    next(type) {
      const at = inbox.findIndex((m) => m.type === type);
      if (at >= 0) return Promise.resolve(inbox.splice(at, 1)[0]!);
      if (exitInfo !== undefined) return Promise.reject(new Error(`fixture ${fixture} already exited`));
      return new Promise((resolve, reject) => waiting.push({ type, resolve, reject }));
    },
  };
}

/** Whether process `pid` is stopped (SIGSTOP): its state in `/proc/<pid>/stat` is `T`. */
export function isStopped(pid: number): boolean {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name in parentheses may hold spaces; the state follows the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'T';
}

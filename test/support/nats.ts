// A real nats-server (Debian's package) per test, on a loopback port of its own choosing.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** Whether `nats-server` is installed. */
const haveNatsServer = (() => {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Whether the NATS tests skip: only where `nats-server` is missing and `POLLUX_REQUIRE_NATS` is
 * unset. CI sets it, so there a missing server fails those tests instead.
 */
export const skipWithoutNats = !haveNatsServer && process.env['POLLUX_REQUIRE_NATS'] === undefined;

/** A running nats-server. */
export interface NatsServer {
  /** The loopback port it listens on; a restart keeps it. */
  readonly port: number;
  /** `nats://127.0.0.1:<port>`. */
  readonly url: string;
  readonly pid: number;
  /** Stops it (SIGKILL, as a crash) and waits for the process to end. */
  kill(): Promise<void>;
  /** Starts it again on the same port and configuration, once it has been killed. */
  restart(): Promise<void>;
  /** Kills it and removes its configuration. */
  stop(): Promise<void>;
}

/**
 * Starts `nats-server` on 127.0.0.1 with `config` (nats-server configuration text, e.g.
 * `max_payload: 100000`). The port is `-p -1`: the server binds a free one and logs it, so no port
 * is guessed and none is raced for.
 */
export async function startNats(config = ''): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'pollux-nats-'));
  const configFile = join(dir, 'nats.conf');
  writeFileSync(configFile, config);
  let child: ChildProcess;
  let port = await launch(['-c', configFile, '-a', '127.0.0.1', '-p', '-1'], (started) => {
    child = started;
  });
  const killChild = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  return {
    get port() {
      return port;
    },
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get pid() {
      return child.pid!;
    },
    kill: killChild,
    async restart() {
      port = await launch(['-c', configFile, '-a', '127.0.0.1', '-p', String(port)], (started) => {
        child = started;
      });
    },
    async stop() {
      await killChild();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The nats-servers of this process that still run. Tests stop theirs in their hooks; these are
 * killed when the process exits, for a test that ended before its hook could (a server that never
 * became ready, a hook that timed out).
 */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts nats-server with `args`, resolving with its client port once it logs that it is ready. */
function launch(args: string[], started: (child: ChildProcess) => void): Promise<number> {
  const child = spawn('nats-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  started(child);
  return new Promise((resolve, reject) => {
    let port: number | undefined;
    const log: string[] = [];
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      log.push(line);
      const listening = /Listening for client connections on [^\s]+:(\d+)/.exec(line);
      if (listening !== null) port = Number(listening[1]);
      if (line.includes('Server is ready') && port !== undefined) resolve(port);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(
        new Error(`nats-server ${args.join(' ')} exited (${code ?? signal}) before it was ready:\n${log.join('\n')}`),
      ),
    );
  });
}

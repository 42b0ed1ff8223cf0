/**
 * The server program of each contender, and what keeps a contender from running on this machine
 * (the C server does not compile, libqb is not installed, zeromq's prebuilt addon does not load):
 * those are reported as n/a with the reason instead of failing the bench.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { backendOf, polluxAddress, spinMicrosOf, type Contender } from './contenders.js';
import { isLibqb, LIBQB, LIBQB_BINARY, LIBQB_SOURCE, libqbFlags, libqbServer, type Libqb } from './libqb.js';
import { peerScript, PEERS_DIR } from './peers.js';
import { REPO_ROOT, scriptPath, type Program } from './processes.js';
import { shmRingBytes, type Workload } from './workloads.js';

/** Where the C server is compiled: git-ignored, rebuilt by every bench run. */
const C_BINARY = join(REPO_ROOT, 'bench', 'build', 'echo-server');
const C_SOURCE = join(REPO_ROOT, 'bench', 'c', 'echo-server.c');
export const C_COMPILER = process.env.CC ?? 'cc';
export const C_FLAGS = ['-O2', '-Wall', '-Wextra'];

const SERVER_SCRIPT: Record<Exclude<Contender, `pollux-${string}` | 'c' | Libqb | 'nats'>, string> = {
  net: scriptPath('net-server.ts'),
  'node-ipc': peerScript('node-ipc-server.ts'),
  jsonrpc: peerScript('jsonrpc-server.ts'),
  zeromq: peerScript('zeromq-server.ts'),
  grpc: peerScript('grpc-server.ts'),
};

/** The server of `contender` for `workloads` at `address`. */
export function serverProgram(contender: Contender, address: string, workloads: readonly Workload[]): Program {
  const backend = backendOf(contender);
  if (backend !== undefined) {
    return {
      script: scriptPath('pollux-server.ts'),
      args: [
        polluxAddress(contender, address),
        backend,
        String(spinMicrosOf(contender)),
        String(shmRingBytes(workloads)),
      ],
    };
  }
  if (contender === 'c') return { binary: C_BINARY, args: [address] };
  if (isLibqb(contender)) return libqbServer(contender, address);
  if (contender === 'pollux-nats' || contender === 'nats')
    return { script: scriptPath('nats-servers.ts'), args: [address, contender] };
  return { script: SERVER_SCRIPT[contender as keyof typeof SERVER_SCRIPT], args: [address] };
}

function failure(result: ReturnType<typeof spawnSync>, what: string): string | undefined {
  if (result.error !== undefined) return `${what}: ${result.error.message}`;
  if (result.status === 0) return undefined;
  const output = `${result.stderr?.toString() ?? ''}`.trim().split('\n')[0] ?? '';
  return `${what} failed (exit ${result.status}): ${output}`;
}

/** Compiles one C program with the bench's flags (and `libraries` after the source): why not, or undefined. */
function compile(source: string, binary: string, libraries: readonly string[] = []): string | undefined {
  const compiled = spawnSync(C_COMPILER, [...C_FLAGS, '-o', binary, source, ...libraries], { encoding: 'utf8' });
  return failure(compiled, `${C_COMPILER} ${C_FLAGS.join(' ')}`);
}

/**
 * Compiles the C server and the libqb program (when libqb is installed) and checks that zeromq's
 * native addon loads (in a throwaway process: it starts I/O threads). Returns the reason per
 * contender that cannot run, and libzmq's version.
 */
export function prepareServers(): { unavailable: Partial<Record<Contender, string>>; libzmq: string } {
  const unavailable: Partial<Record<Contender, string>> = {};
  mkdirSync(join(REPO_ROOT, 'bench', 'build'), { recursive: true });
  const cFailure = compile(C_SOURCE, C_BINARY);
  if (cFailure !== undefined) unavailable.c = cFailure;
  const libqb = libqbFlags();
  const libqbFailure = 'missing' in libqb ? libqb.missing : compile(LIBQB_SOURCE, LIBQB_BINARY, libqb.flags);
  if (libqbFailure !== undefined) for (const contender of LIBQB) unavailable[contender] = libqbFailure;
  const zeromq = spawnSync(process.execPath, ['-e', "process.stdout.write(require('zeromq').version)"], {
    cwd: PEERS_DIR,
    encoding: 'utf8',
  });
  const zeromqFailure = failure(zeromq, "loading zeromq's prebuilt addon");
  if (zeromqFailure !== undefined) unavailable.zeromq = zeromqFailure;
  const natsServer = failure(spawnSync('nats-server', ['--version'], { encoding: 'utf8' }), 'nats-server --version');
  if (natsServer !== undefined)
    unavailable['pollux-nats'] = unavailable.nats = `${natsServer} (apt-get install nats-server)`;
  return { unavailable, libzmq: zeromqFailure === undefined ? zeromq.stdout : 'not loaded' };
}

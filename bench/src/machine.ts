/**
 * What the report states about the run: the machine, the versions of everything measured, and
 * the exact command, so a figure can be traced to what produced it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { libqbVersion } from './libqb.js';
import { PEERS_DIR } from './peers.js';
import { canPin, CLIENT_CPU, REPO_ROOT, SERVER_CPU } from './processes.js';
import { C_COMPILER, C_FLAGS } from './servers.js';

/** The npm packages measured; versions are read from what is installed. */
const PACKAGES = ['node-ipc', 'vscode-jsonrpc', 'zeromq', '@grpc/grpc-js'];

function output(file: string, args: readonly string[]): string {
  try {
    return execFileSync(file, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

export interface Machine {
  readonly date: string;
  readonly command: string;
  readonly node: string;
  readonly kernel: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly pinned: { readonly server: number; readonly client: number } | false;
  readonly pollux: string;
  readonly packages: Record<string, string>;
  readonly libzmq: string;
  /** libqb's version as pkg-config reports it, or 'not installed'. */
  readonly libqb: string;
  readonly compiler: string;
}

export function describeMachine(args: readonly string[], libzmq: string): Machine {
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) {
    const manifest = JSON.parse(readFileSync(join(PEERS_DIR, 'node_modules', name, 'package.json'), 'utf8')) as {
      version: string;
    };
    packages[name] = manifest.version;
  }
  const commit = output('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = output('git', ['status', '--porcelain', '--', 'packages']) === '' ? '' : ' (packages/ modified)';
  return {
    date: new Date().toISOString(),
    command: ['pnpm bench', ...args].join(' '),
    node: process.version,
    kernel: `Linux ${release()}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    pinned: canPin ? { server: SERVER_CPU, client: CLIENT_CPU } : false,
    pollux: `${commit}${dirty}`,
    packages,
    libzmq,
    libqb: libqbVersion(),
    compiler: `${output(C_COMPILER, ['--version']).split('\n')[0]} (${C_COMPILER} ${C_FLAGS.join(' ')})`,
  };
}

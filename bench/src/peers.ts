/**
 * The IPC stacks pollux is compared with live in bench/peers, a plain npm project outside the pnpm
 * workspace: installing the workspace (for the demo or the tests) never downloads them; the first
 * bench run does, with npm, from bench/peers/package-lock.json. Their adapters (bench/peers/src)
 * are loaded by path, so `tsc -p bench` does not need the stacks' types; `tsc -p bench/peers`
 * checks the adapters once the stacks are installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compiledScript } from './compiled-scripts.js';
import { REPO_ROOT } from './processes.js';

export const PEERS_DIR = join(REPO_ROOT, 'bench', 'peers');
const INSTALLED = join(PEERS_DIR, 'node_modules', '.package-lock.json');

/** Path of an adapter module of bench/peers/src (`zeromq-server.ts`) as compiled, in bench/peers/dist. */
export function peerScript(name: string): string {
  return compiledScript(PEERS_DIR, name);
}

/** Settings that say where and how npm fetches; pnpm passes the rest of its own as npm_config_*. */
const FETCH_SETTINGS = new Set([
  'registry',
  'cache',
  'userconfig',
  'cafile',
  'ca',
  'proxy',
  'https_proxy',
  'noproxy',
  'strict_ssl',
]);

/**
 * The environment for npm, without the npm_config_* variables pnpm sets for its own settings
 * (auto-install-peers, verify-deps-before-run, …), which npm does not know and warns about.
 */
function npmEnvironment(): NodeJS.ProcessEnv {
  const prefix = 'npm_config_';
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) => !key.toLowerCase().startsWith(prefix) || FETCH_SETTINGS.has(key.slice(prefix.length).toLowerCase()),
    ),
  );
}

/**
 * Installs the peers with `npm ci` unless what is installed matches the lockfile. Install
 * scripts stay off: zeromq's would build libzmq with cmake when its prebuilt addon does not load
 * (the bench reports zeromq n/a instead), and protobufjs's only checks versions.
 */
export function ensurePeers(): void {
  const lockfile = join(PEERS_DIR, 'package-lock.json');
  if (existsSync(INSTALLED) && statSync(INSTALLED).mtimeMs >= statSync(lockfile).mtimeMs) return;
  process.stderr.write(
    'Installing the bench peers (node-ipc, vscode-jsonrpc, zeromq, grpc-js) into bench/peers with npm ci: once\n',
  );
  const npm = spawnSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: PEERS_DIR,
    stdio: 'inherit',
    env: npmEnvironment(),
  });
  if (npm.status !== 0)
    throw new Error(
      `npm ci in ${PEERS_DIR} failed (${npm.error?.message ?? `exit ${npm.status}`}): the bench needs the npm registry once`,
    );
}

// npm/pnpm install script of @pollux/sys: make sure a native addon that loads here is present,
// compiling it only when it has to.
//
// - A binary compiled from source (build/Release) that is newer than every source file: done.
// - No such build, and the prebuilt binary in the tarball (prebuilds/linux-x64) loads: done.
//   This is every linux-x64 glibc install: no compiler, no node-gyp, no network.
// - Otherwise compile with node-gyp (npm and pnpm put their bundled node-gyp on PATH), quietly:
//   its log is shown only if it fails, after a line saying what is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const built = join(packageDir, 'build', 'Release', 'pollux_sys.node');
const require = createRequire(import.meta.url);

function newestSourceTime() {
  const sources = ['binding.gyp', ...readdirSync(join(packageDir, 'native')).map((file) => join('native', file))];
  return Math.max(...sources.map((file) => statSync(join(packageDir, file)).mtimeMs));
}

function prebuiltLoads() {
  try {
    require(require('node-gyp-build').resolve(packageDir));
    return true;
  } catch {
    return false;
  }
}

if (existsSync(built)) {
  if (statSync(built).mtimeMs >= newestSourceTime()) process.exit(0);
} else if (prebuiltLoads()) {
  process.exit(0);
}

console.log('@pollux/sys: compiling the native addon from source (node-gyp rebuild)');
const gyp = spawnSync('node-gyp', ['rebuild'], {
  cwd: packageDir,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'pipe'],
});
if (gyp.status === 0) {
  console.log(`@pollux/sys: built ${built}`);
  process.exit(0);
}
const log = `${gyp.stdout ?? ''}${gyp.stderr ?? ''}`.trim().split('\n');
console.error(
  [
    `@pollux/sys: could not compile the native addon (${gyp.error ? `node-gyp: ${gyp.error.message}` : `node-gyp exited with ${gyp.status}`}).`,
    'There is no prebuilt binary for this machine (only linux-x64 with glibc is prebuilt), so it must be',
    'compiled: that needs python3, make and a C compiler (cc, or $CC). Install them and reinstall.',
    "The end of node-gyp's log:",
    ...log.slice(-15).map((line) => `  ${line}`),
  ].join('\n'),
);
process.exit(1);

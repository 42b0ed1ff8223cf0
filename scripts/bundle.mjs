// Bundles each package's compiled modules (dist/, written by `tsc -b`) into one file per entry
// point (bundle/), the files the published packages and the bench load.
//
// Why: Node's ESM loader resolves every module of a package one by one, and doing that for the
// ~80 modules of a pollux server makes Node's path helpers hot enough that V8 compiles them with
// TurboFan at start-up, which faults its code in. Measured on a server that only listens:
// 54.1 MiB of RSS with dist/, 51.3 MiB bundled, 43.2 MiB for a bare node:net server.
//
// Each entry `./bundle/<name>.js` named in a package's package.json (its exports, main or bin) is
// built from `./dist/<name>.js`. Other packages, @pollux/* included, stay imports, so a class has
// one definition however many packages use it; entries of one package share their common code
// through a chunk for the same reason. Source maps lead back to src/.
//
// Usage: node scripts/bundle.mjs [package directory ...]   (default: every package in packages/)
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { NODE_BUNDLE } from './esbuild-options.mjs';

const root = resolve(import.meta.dirname, '..');

/** The `./bundle/<name>.js` paths a package.json names anywhere in it. */
function bundleEntries(manifest) {
  const found = new Set();
  const visit = (value) => {
    if (typeof value === 'string') {
      const match = /^\.\/bundle\/(.+)\.js$/.exec(value);
      if (match !== null) found.add(match[1]);
    } else if (value !== null && typeof value === 'object') {
      for (const inner of Object.values(value)) visit(inner);
    }
  };
  visit(manifest);
  return [...found];
}

async function bundle(packageDir) {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const entries = bundleEntries(manifest);
  if (entries.length === 0) return;
  const outdir = join(packageDir, 'bundle');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: Object.fromEntries(entries.map((name) => [name, join(packageDir, 'dist', `${name}.js`)])),
    outdir,
    ...NODE_BUNDLE,
    sourcemap: true,
  });
}

const dirs =
  process.argv.length > 2
    ? process.argv.slice(2).map((dir) => resolve(dir))
    : readdirSync(join(root, 'packages')).map((name) => join(root, 'packages', name));
await Promise.all(dirs.map(bundle));

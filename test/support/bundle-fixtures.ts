// Vitest global setup: bundles each fixture once into plain JavaScript, so a test that spawns
// hundreds of fixture processes pays Node's start-up alone, not tsx's compile on every start.
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Fixture name → bundled script, for {@link spawnPeer}. */
    fixtureBundles: Record<string, string>;
  }
}

/** The part of esbuild's API used here. */
interface Esbuild {
  build(options: Record<string, unknown> & { plugins: EsbuildPlugin[] }): Promise<unknown>;
}
interface EsbuildPlugin {
  name: string;
  setup(build: { onLoad(filter: { filter: RegExp }, load: (args: { path: string }) => Promise<{ contents: string; loader: string }>): void }): void;
}

// esbuild comes with tsx; resolving it through tsx keeps it out of our own dependencies.
const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx'))('esbuild') as Esbuild;

const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url));

/**
 * Native addons are loaded with `createRequire(import.meta.url)` relative to their source file:
 * pin each module's `import.meta.url` to where its source lives, so those paths still resolve
 * from the bundle.
 */
const keepSourceUrls: EsbuildPlugin = {
  name: 'keep-source-urls',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async ({ path }) => ({
      contents: (await readFile(path, 'utf8')).replaceAll('import.meta.url', JSON.stringify(pathToFileURL(path).href)),
      loader: 'ts',
    }));
  },
};

export default async function bundleFixtures(project: TestProject): Promise<() => void> {
  const outDir = mkdtempSync(join(tmpdir(), 'pollux-fixtures-'));
  // Fixtures also run as another user (uid 65534).
  chmodSync(outDir, 0o755);
  const bundles: Record<string, string> = {};
  await Promise.all(
    readdirSync(fixturesDir)
      .filter((file) => file.endsWith('.ts'))
      .map(async (file) => {
        const name = basename(file, '.ts');
        const outfile = join(outDir, `${name}.mjs`);
        await esbuild.build({
          entryPoints: [join(fixturesDir, file)],
          outfile,
          bundle: true,
          platform: 'node',
          format: 'esm',
          target: 'node20',
          logLevel: 'warning',
          plugins: [keepSourceUrls],
        });
        bundles[name] = outfile;
      }),
  );
  project.provide('fixtureBundles', bundles);
  return () => rmSync(outDir, { recursive: true, force: true });
}

// Vitest global setup: bundles each fixture once into plain JavaScript, so a test that spawns
// hundreds of fixture processes pays Node's start-up alone, not tsx's compile on every start.
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
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
  setup(build: {
    onLoad(
      filter: { filter: RegExp },
      load: (args: { path: string }) => Promise<{ contents: string; loader: string }>,
    ): void;
  }): void;
}

// esbuild comes with tsx; resolving it through tsx keeps it out of our own dependencies.
const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx'))('esbuild') as Esbuild;

const fixturesDir = fileURLToPath(new URL('../fixtures/', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Where the bundles run from. Fixtures also run as another user (uid 65534), who may not enter
 * the checkout (a clone in root's home, mode 0700): so they load nothing from it. Each module's
 * `import.meta.url` points into a mirror of the checkout under this directory, and what modules
 * load at run time beside their sources is copied there: each workspace package's native addon
 * (`build/Release/*.node`, `prebuilds/`) at its relative path, and the packages sources require
 * by name at run time (`createRequire(import.meta.url)('epoll')`), with their dependencies.
 */
class FixtureDir {
  readonly path: string;
  /** Packages sources require at run time, with the directory they are resolved from. */
  private readonly runtimePackages = new Map<string, string>();

  constructor() {
    this.path = mkdtempSync(join(tmpdir(), 'pollux-fixtures-'));
    const blocked = firstUnsearchable(dirname(this.path));
    if (blocked !== undefined) {
      rmSync(this.path, { recursive: true });
      throw new Error(
        `${blocked} is closed to other users, yet fixtures run as uid 65534 from ${this.path}: point TMPDIR at a directory everyone may enter, such as /tmp`,
      );
    }
  }

  /** Where `sourcePath`, a file of the checkout, lives in the mirror. */
  mirrorOf(sourcePath: string): string {
    return join(this.path, relative(repoRoot, sourcePath));
  }

  /** esbuild plugin: point `import.meta.url` into the mirror, and note what is required by name at run time. */
  readonly plugin: EsbuildPlugin = {
    name: 'mirror-source-urls',
    setup: (build) => {
      build.onLoad({ filter: /\.ts$/ }, async ({ path }) => {
        const source = await readFile(path, 'utf8');
        for (const [, name] of source.matchAll(
          /createRequire\(import\.meta\.url\)\(\s*['"]([^'"./][^'"]*)['"]\s*\)/g,
        )) {
          this.runtimePackages.set(name!, dirname(path));
        }
        return {
          contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(this.mirrorOf(path)).href)),
          loader: 'ts',
        };
      });
    },
  };

  /** Copies what the bundles load at run time into the mirror, readable by everyone. */
  populate(): void {
    for (const pkg of readdirSync(join(repoRoot, 'packages'))) {
      const release = join(repoRoot, 'packages', pkg, 'build', 'Release');
      const addons = existsSync(release) ? readdirSync(release).filter((file) => file.endsWith('.node')) : [];
      for (const addon of addons) cpSync(join(release, addon), this.mirrorOf(join(release, addon)));
      const prebuilds = join(repoRoot, 'packages', pkg, 'prebuilds');
      if (existsSync(prebuilds)) cpSync(prebuilds, this.mirrorOf(prebuilds), { recursive: true });
    }
    const copied = new Set<string>();
    for (const [name, from] of this.runtimePackages) this.copyPackage(name, from, copied);
    openToEveryone(this.path);
  }

  /** Copies package `name`, as `from` resolves it, and its dependencies into the mirror's node_modules. */
  private copyPackage(name: string, from: string, copied: Set<string>): void {
    if (copied.has(name)) return;
    copied.add(name);
    const candidates = createRequire(join(from, 'noop.js')).resolve.paths(name) ?? [];
    const found = candidates.map((dir) => join(dir, name)).find((dir) => existsSync(join(dir, 'package.json')));
    if (found === undefined)
      throw new Error(`cannot find package ${name} from ${from}, which a fixture requires at run time`);
    const real = realpathSync(found);
    cpSync(real, join(this.path, 'node_modules', name), { recursive: true, dereference: true });
    const manifest = JSON.parse(readFileSync(join(real, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const dependency of Object.keys(manifest.dependencies ?? {})) this.copyPackage(dependency, real, copied);
  }
}

/** The first directory from the root down to `path` that other users may not search, if any. */
function firstUnsearchable(path: string): string | undefined {
  const chain: string[] = [];
  for (let dir = path; !chain.includes(dir); dir = dirname(dir)) chain.unshift(dir);
  return chain.find((dir) => (statSync(dir).mode & 0o001) === 0);
}

/** Makes every file under `dir` readable, and every directory searchable, by everyone (whatever the umask). */
function openToEveryone(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) openToEveryone(path);
    else if (entry.isFile()) chmodSync(path, statSync(path).mode & 0o111 ? 0o755 : 0o644);
  }
}

export default async function bundleFixtures(project: TestProject): Promise<() => void> {
  const out = new FixtureDir();
  const bundles: Record<string, string> = {};
  await Promise.all(
    readdirSync(fixturesDir)
      .filter((file) => file.endsWith('.ts'))
      .map(async (file) => {
        const name = basename(file, '.ts');
        const outfile = join(out.path, `${name}.mjs`);
        await esbuild.build({
          entryPoints: [join(fixturesDir, file)],
          outfile,
          bundle: true,
          platform: 'node',
          format: 'esm',
          target: 'node20',
          // CommonJS dependencies (the nats client) require Node's modules at run time, which an
          // ES module bundle can do only through a require of its own.
          banner: {
            js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);",
          },
          logLevel: 'warning',
          plugins: [out.plugin],
        });
        bundles[name] = outfile;
      }),
  );
  out.populate();
  project.provide('fixtureBundles', bundles);
  return () => rmSync(out.path, { recursive: true, force: true });
}

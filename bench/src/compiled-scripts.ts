/**
 * The bench's child processes run its scripts as plain JavaScript, compiled once per bench run
 * from bench/src and bench/peers/src into bench/dist and bench/peers/dist, not from TypeScript
 * through tsx's loader. Under tsx (`--import tsx`, its ESM or its CommonJS hook alike) a Node
 * process that allocates a buffer per message ran several times slower: 64 KiB echoes through
 * pollux over shared memory went from 4.8 GB/s to 1.2 GB/s in the same harness, with about ten
 * times the page faults and a full collection every 25 ms instead of a few scavenges. A user's
 * compiled program pays none of that, so no contender should.
 *
 * Every file of each source directory is an entry point, bundled as the packages are
 * (scripts/esbuild-options.mjs); packages stay imports, resolved from the output directory's place
 * in the tree: the bench's own dependencies, pollux's compiled bundles (the `pollux-compiled`
 * condition), and the peers' stacks from bench/peers/node_modules.
 */
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildSync } from 'esbuild';
import { NODE_BUNDLE } from '../../scripts/esbuild-options.mjs';

const SOURCE = 'src';
const OUTPUT = 'dist';

/** The compiled script of `name` (`client-main.ts`) of the scripts under `root` (bench/ or bench/peers/). */
export function compiledScript(root: string, name: string): string {
  return join(root, OUTPUT, `${basename(name, '.ts')}.js`);
}

/** Compiles the scripts under each of `roots` (from `src/` to `dist/`); throws on a compile error. */
export function compileScripts(roots: readonly string[]): void {
  for (const root of roots) {
    const sources = join(root, SOURCE);
    buildSync({
      entryPoints: readdirSync(sources)
        .filter((file) => file.endsWith('.ts'))
        .map((file) => join(sources, file)),
      outdir: join(root, OUTPUT),
      ...NODE_BUNDLE,
    });
  }
}

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
 *
 * Unlike the packages', each script is bundled on its own, so it shares no chunk with the others:
 * a process runs one script, and the harness's own modules should cost no contender anything.
 * Resolved one by one, the five chunks a pollux server script shared with others were enough to
 * make Node's path helpers hot, so V8 compiled them with TurboFan at start-up and ~4 MiB of its
 * code was counted as the server's base RSS. What a script imports dynamically still gets a chunk
 * of its own, loaded only when asked for: bundled in, the client's NATS and bridge modules (and
 * esbuild) would load in every client process.
 */
import { readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { NODE_BUNDLE } from '../../scripts/esbuild-options.mjs';

const SOURCE = 'src';
const OUTPUT = 'dist';

/** The compiled script of `name` (`client-main.ts`) of the scripts under `root` (bench/ or bench/peers/). */
export function compiledScript(root: string, name: string): string {
  return join(root, OUTPUT, `${basename(name, '.ts')}.js`);
}

/** Compiles the scripts under each of `roots` (from `src/` to `dist/`); throws on a compile error. */
export function compileScripts(roots: readonly string[]): void {
  // Loaded here: client processes import compiledScript (through peers.ts) and need no compiler.
  const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof import('esbuild');
  for (const root of roots) {
    const sources = join(root, SOURCE);
    const output = join(root, OUTPUT);
    rmSync(output, { recursive: true, force: true });
    for (const file of readdirSync(sources).filter((name) => name.endsWith('.ts')))
      buildSync({ entryPoints: [join(sources, file)], outdir: output, ...NODE_BUNDLE });
  }
}

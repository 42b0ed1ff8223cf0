/**
 * Summarises a V8 CPU profile (what `--cpu-prof` writes, e.g. from `pnpm bench --cpu-prof dir`):
 * the functions with the most self time, each with its file:line, and the share of garbage
 * collection. Usage: tsx bench/src/profile-summary.ts <file.cpuprofile> [top N, default 25].
 */
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from './processes.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const [file, top = '25'] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top N]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;

/** Where a function is, relative to the repository or to node_modules, 1-based line. */
function place(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const path = url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '')
    .replace(REPO_ROOT, '');
  // Line 0 is what V8 reports for code tsx transformed (its line mapping is lost): no line then.
  const line = lineNumber > 0 ? `:${lineNumber + 1}` : '';
  return `${functionName === '' ? '(anonymous)' : functionName} ${path}${line}`.trim();
}

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const selfTime = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const node = byId.get(id);
  const micros = profile.timeDeltas[i] ?? 0;
  if (node === undefined) return;
  const key = place(node);
  selfTime.set(key, (selfTime.get(key) ?? 0) + micros);
  total += micros;
});
const busy = total - (selfTime.get('(idle)') ?? 0);
console.log(
  `${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms not idle; self time, share of the non-idle time:`,
);
for (const [key, micros] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  if (key === '(idle)') continue;
  console.log(
    `${(micros / 1000).toFixed(0).padStart(7)} ms ${((100 * micros) / busy).toFixed(1).padStart(5)}%  ${key}`,
  );
}

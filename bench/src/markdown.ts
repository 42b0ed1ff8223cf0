/**
 * bench/results/report.md: the machine, versions and exact command, every comparison's table,
 * what was n/a and why, and a chart per workload (the SVGs next to it in charts/).
 */
import { LABEL, type Contender } from './contenders.js';
import type { Machine } from './machine.js';
import { cells, reported, type Row, type WorkloadRuns } from './report.js';
import { describe, slug } from './workloads.js';

function markdownTable(header: readonly string[], body: readonly (readonly string[])[]): string {
  const line = (row: readonly string[]): string => `| ${row.join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map(line)].join(
    '\n',
  );
}

export function markdownReport(
  machine: Machine,
  repeats: number,
  quick: boolean,
  list: readonly Row[],
  results: readonly WorkloadRuns[],
  notes: readonly string[],
): string {
  const out: string[] = [];
  out.push('# pollux benchmark results', '');
  if (quick) out.push('**A `--quick` smoke run: one repeat, small counts. Do not quote these figures.**', '');
  out.push(
    `Command: \`${machine.command}\` (from the repository root), ${machine.date}.`,
    '',
    `- Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.kernel}; ` +
      (machine.pinned === false
        ? 'server and client UNPINNED (taskset unavailable).'
        : `server pinned to CPU ${machine.pinned.server}, client to CPU ${machine.pinned.client}.`),
    `- Node ${machine.node}; pollux at commit ${machine.pollux}; C reference server built with ${machine.compiler}; libqb ${machine.libqb}.`,
    `- Peers: ${Object.entries(machine.packages)
      .map(([name, version]) => `${name} ${version}`)
      .join(', ')}; libzmq ${machine.libzmq} (inside zeromq's prebuilt addon).`,
    `- Medians of ${repeats} repeat(s); in each repeat every contender gets a fresh server process and a fresh client process for its round trips, and fresh ones for each other workload (pipelined, events, connect, warm-up, idle, fd-count).`,
    '- pollux runs over Unix sockets and over shared memory (`@pollux/transport-shm`); its three pollers are in the second table, shared memory beside sockets in the third, libqb in the fifth.',
    ...notes.map((note) => `- Note: ${note}.`),
    '',
    'Every cell is the median and, in brackets, its ratio to hand-framed `node:net` measured in the same run (the floor ' +
      'any JS socket library pays; in the libqb table, to libqb over shared memory); each row says which direction is better. `-` means not run for that row, `n/a` that ' +
      'the contender cannot run (reasons below). How each figure is defined: see `bench/README.md`.',
    '',
  );
  for (const comparison of reported(list)) {
    const { header, body } = cells(comparison, list, results);
    out.push(`## ${comparison.title}`, '', markdownTable(header, body), '');
  }
  const reasons = new Map<Contender, Set<string>>();
  for (const { unavailable } of results) {
    for (const [contender, reason] of Object.entries(unavailable) as [Contender, string][]) {
      if (!reasons.has(contender)) reasons.set(contender, new Set());
      reasons.get(contender)?.add(reason);
    }
  }
  if (reasons.size > 0) {
    out.push('## n/a', '');
    for (const [contender, set] of reasons) out.push(`- ${LABEL[contender]}: ${[...set].join('; ')}`);
    out.push('');
  }
  out.push('## Charts', '');
  for (const { workload } of results) out.push(`![${describe(workload)}](charts/${slug(workload)}.svg)`, '');
  return out.join('\n');
}

// Every TypeScript or JavaScript block in the READMEs either is a complete program, kept verbatim
// in examples/readme/ (named by an `<!-- example: … -->` line above the block) and run here from
// examples/, whose package.json declares what they import; or says on its first line that it is
// a fragment. `tsc -p examples` type-checks the programs.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { skipWithoutNats } from './support/nats.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const examplesDir = join(repoRoot, 'examples');
const readmes = [
  'README.md',
  ...readdirSync(join(repoRoot, 'packages')).map((name) => join('packages', name, 'README.md')),
];

interface CodeBlock {
  readonly readme: string;
  readonly line: number;
  readonly language: string;
  readonly code: string;
  /** The file named by an `<!-- example: path -->` line right above the block. */
  readonly example: string | undefined;
}

function codeBlocks(readme: string): CodeBlock[] {
  const text = readFileSync(join(repoRoot, readme), 'utf8');
  const blocks: CodeBlock[] = [];
  for (const match of text.matchAll(/(?:<!-- example: (\S+) -->\n)?```(\w*)\n([\s\S]*?)```/g)) {
    const [, example, language = '', code = ''] = match;
    blocks.push({ readme, line: text.slice(0, match.index).split('\n').length, language, code, example });
  }
  return blocks.filter((block) => ['ts', 'js', 'typescript', 'javascript'].includes(block.language));
}

const blocks = readmes.flatMap(codeBlocks);
const programs = readdirSync(join(examplesDir, 'readme')).map((file) => join('examples', 'readme', file));
/** The programs that start a nats-server: they run where it is installed, and always in CI. */
const runnable = programs.filter((program) => !(skipWithoutNats && program.endsWith('bridge-nats.ts')));

describe('README code blocks', () => {
  it.each(blocks.map((block) => [`${block.readme}:${block.line}`, block] as const))(
    '%s is a kept example or a marked fragment',
    (_, block) => {
      if (block.example === undefined) expect(block.code).toMatch(/^\/\/ fragment: /);
      else expect(block.code).toBe(readFileSync(join(repoRoot, block.example), 'utf8'));
    },
  );

  it('shows every program in examples/readme', () => {
    expect(new Set(blocks.map((block) => block.example))).toEqual(new Set([...programs, undefined]));
  });
});

describe('README programs', () => {
  const tsx = fileURLToPath(import.meta.resolve('tsx'));
  it.each(runnable)('%s runs to completion from examples/', async (program) => {
    // tsx runs the .ts programs and lets the .mjs one import the workspace's TypeScript sources;
    // the packed packages run it with plain node in test/consumer/run.sh.
    const run = await promisify(execFile)(
      process.execPath,
      ['--import', tsx, relative(examplesDir, join(repoRoot, program))],
      {
        cwd: examplesDir,
        timeout: 30_000,
      },
    );
    expect(run.stderr).toBe('');
  });
});

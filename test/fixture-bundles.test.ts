// The fixtures that run as another user (uid 65534) must work wherever the checkout lives, even
// in a directory only its owner may enter (a clone in root's home): they may load nothing from it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Every file and directory under `dir`, itself included. */
function walk(dir: string): string[] {
  return [
    dir,
    ...readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
    ),
  ];
}

describe('fixture bundles', () => {
  const bundles = Object.entries(inject('fixtureBundles'));

  it('refer to no path inside the checkout', () => {
    expect(bundles.length).toBeGreaterThan(0);
    for (const [name, bundle] of bundles) {
      expect(bundle.startsWith(repoRoot), name).toBe(false);
      expect(readFileSync(bundle, 'utf8').includes(repoRoot), `${name} names a path in ${repoRoot}`).toBe(false);
    }
  });

  it('sit, with what they load at run time, where every user may read', () => {
    const dirs = new Set(bundles.map(([, bundle]) => dirname(bundle)));
    expect(dirs.size).toBe(1);
    const entries = walk([...dirs][0]!);
    expect(
      entries.some((path) => path.endsWith('.node')),
      'a native addon beside the bundles',
    ).toBe(true);
    for (const path of entries) {
      const stat = statSync(path);
      const needed = stat.isDirectory() ? 0o005 : 0o004;
      expect(stat.mode & needed, `${path} is closed to other users`).toBe(needed);
    }
  });
});

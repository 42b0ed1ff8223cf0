// Leak check in the spirit of libuv's MAKE_VALGRIND_HAPPY: every test must
// leave the process with exactly the fds it started with.
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';

/** Number of open fds of this process. */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Registers before/after hooks asserting that no test (and no file) leaks an fd. */
export function checkFdLeaks(): void {
  let fileBaseline = 0;
  let testBaseline = 0;
  beforeAll(() => {
    fileBaseline = openFdCount();
  });
  beforeEach(() => {
    testBaseline = openFdCount();
  });
  afterEach(() => {
    expect(openFdCount(), 'fds leaked by this test').toBe(testBaseline);
  });
  afterAll(() => {
    expect(openFdCount(), 'fds leaked by this file').toBe(fileBaseline);
  });
}

/** The flags field of /proc/self/fdinfo/<fd>, as a number. */
export function fdFlags(fd: number): number {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const match = /^flags:\s+([0-7]+)$/m.exec(info);
  if (match?.[1] === undefined) throw new Error(`no flags in fdinfo of ${fd}`);
  return Number.parseInt(match[1], 8);
}

export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;

/** Resolves after `n` turns of the event loop (each includes a poll phase). */
export async function loopTurns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

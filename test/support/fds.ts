import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Number of fds this process holds open, from `/proc/self/fd` (the listing's own fd excluded). */
export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

/**
 * Mappings of memory files (`memfd:`) this process holds, from `/proc/self/maps`: shared-memory
 * rings and regions, whose count must come back to its baseline when their connections end.
 */
export function memfdMappingCount(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((line) => line.includes('/memfd:')).length;
}

/**
 * Makes sure this process may hold `needed` fds (and the processes it spawns from now on: they
 * inherit the limit, and Node raises its soft limit to the hard one at start-up). Raises
 * RLIMIT_NOFILE with prlimit(1) when it is lower, which takes root beyond the hard limit.
 */
export function ensureFdLimit(needed: number): void {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  const [soft, hard] = [match?.[1], match?.[2]].map((value) => (value === 'unlimited' ? Infinity : Number(value)));
  if (soft! >= needed && hard! >= needed) return;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${needed}:${Math.max(needed, hard!)}`], {
      stdio: 'pipe',
    });
  } catch (error) {
    throw new Error(
      `this test holds ${needed} fds, RLIMIT_NOFILE is ${soft}:${hard} and prlimit could not raise it ` +
        `(${String((error as { stderr?: unknown }).stderr ?? error).trim()}): run as root, or raise the hard limit (ulimit -Hn)`,
    );
  }
}

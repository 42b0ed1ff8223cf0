/**
 * What every Node server process does besides serving. It exits on SIGTERM (the bench stops a
 * server after its runs) or when stdin closes (so a server never outlives a bench that crashed or
 * was interrupted). And on SIGUSR2 it collects garbage until its RSS stops moving and prints
 * "settled", so the idle workload reads its memory without garbage of earlier connections in it
 * (the C server answers SIGUSR2 the same way).
 */
import { setTimeout as delay } from 'node:timers/promises';

/** RSS counts as settled when one more collection moves it by less than this. */
const SETTLED_BYTES = 64 * 1024;
/**
 * V8 returns freed pages to the system from background threads after a collection, so RSS is
 * read again after a pause rather than right after gc().
 */
const SETTLE_PAUSE_MS = 50;
const SETTLE_ROUNDS = 20;

async function settle(): Promise<void> {
  let last = process.memoryUsage.rss();
  for (let round = 0; round < SETTLE_ROUNDS; round++) {
    globalThis.gc?.();
    await delay(SETTLE_PAUSE_MS);
    const rss = process.memoryUsage.rss();
    if (Math.abs(rss - last) < SETTLED_BYTES) break;
    last = rss;
  }
  process.stdout.write('settled\n');
}

export function exitWithParent(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Do not wait forever on a close that hangs: exit is what the bench needs.
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('server close failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.on('SIGUSR2', () => void settle());
}

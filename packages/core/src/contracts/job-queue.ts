// JobQueue, the `job` half of a Poller for poller authors (contracts layer).
import type { Poller } from './poller.js';

/**
 * The `job` half of a {@link Poller}, for poller authors: an ordered queue of functions that runs
 * in batches. A batch runs the jobs queued before it started; jobs queued while it runs wait for
 * the next batch, so a job that queues itself cannot starve the loop. A throwing job does not
 * cancel the others; its error surfaces as an uncaught exception, as from any callback.
 *
 * @example
 * ```ts
 * class MyPoller implements Poller {
 *   private readonly jobs = new JobQueue();
 *   job(fn: () => void): void {
 *     if (this.jobs.push(fn)) scheduleSoon(() => this.jobs.run());
 *   }
 *   // add, modify, remove …
 * }
 * ```
 */
export class JobQueue {
  private pending: (() => void)[] = [];

  /** Jobs waiting to run. */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Queues `fn`.
   *
   * @returns true when the queue was empty: the caller must arrange for {@link JobQueue.run}.
   */
  push(fn: () => void): boolean {
    return this.pending.push(fn) === 1;
  }

  /** Runs the jobs queued so far, in order. */
  run(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    for (const fn of batch) {
      try {
        fn();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

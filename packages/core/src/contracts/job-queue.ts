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
 *   private readonly runJobs = (): void => this.jobs.run();
 *   job(fn: () => void): void {
 *     if (this.jobs.push(fn)) runAsMicrotask(this.runJobs);
 *   }
 *   // add, modify, remove …
 * }
 * ```
 */
export class JobQueue {
  private pending: (() => void)[] = [];
  /**
   * The array of the last batch, emptied, to queue the next one in: a client queues a job per
   * request, and a fresh array would allocate its backing store each time.
   */
  private spare: (() => void)[] | undefined = [];

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
    // A job may run a batch of its own (a host pumping from inside one): that batch takes the
    // spare, and this one queues into a new array.
    this.pending = this.spare ?? [];
    this.spare = undefined;
    for (const fn of batch) {
      try {
        fn();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    batch.length = 0;
    this.spare = batch;
  }
}

const settled = Promise.resolve();

/**
 * Runs `fn` as a microtask: after the code running now and the microtasks queued before it, as
 * `queueMicrotask(fn)` would, for a poller's `job`. Node's `queueMicrotask` makes an async resource
 * and a bound function per call, and a client queues a job per request; a reaction on a settled
 * promise is the least a microtask costs.
 *
 * `fn` must not throw: its error would surface as an unhandled rejection rather than an uncaught
 * exception. {@link JobQueue.run} never throws (it reports each job's error as uncaught itself).
 */
export function runAsMicrotask(fn: () => void): void {
  void settled.then(fn);
}

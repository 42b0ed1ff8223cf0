// TimerQueue, the `timer` half of a Poller for poller authors (contracts layer).
import { MAX_TIMER_DELAY, type Poller, type Timer } from './poller.js';

/**
 * A delay as {@link Poller.timer} takes it: below 0 counts as 0, above {@link MAX_TIMER_DELAY} as
 * that (Node's `setTimeout` would make it 1 ms).
 *
 * @throws RangeError if `ms` is NaN
 */
export function timerDelay(ms: number): number {
  if (Number.isNaN(ms)) throw new RangeError('a timer delay must be a number of milliseconds, not NaN');
  return Math.min(Math.max(0, ms), MAX_TIMER_DELAY);
}

/** One scheduled call, at `index` in its queue's heap until it runs or is cancelled. */
class QueuedTimer implements Timer {
  index = -1;
  constructor(
    readonly deadline: number,
    /** Order of creation: breaks ties between equal deadlines. */
    readonly sequence: number,
    readonly fn: () => void,
    readonly keepAlive: boolean,
    /** The queue it waits in; undefined once it ran or was cancelled. */
    private queue: TimerQueue | undefined,
  ) {}

  cancel(): void {
    const queue = this.queue;
    if (queue === undefined) return;
    this.queue = undefined;
    queue.cancelled(this);
  }

  /** Marks the timer as run; false if it was cancelled since it left the heap. */
  take(): boolean {
    if (this.queue === undefined) return false;
    this.queue = undefined;
    return true;
  }
}

/**
 * The `timer` half of a {@link Poller}, for poller authors whose loop keeps its own time: a
 * priority queue of deadlines on the clock it is given. The loop asks {@link TimerQueue.timeout}
 * how long it may block, and calls {@link TimerQueue.run} after each wait. Scheduling and
 * cancelling cost O(log n), so thousands of request timeouts stay cheap.
 *
 * A loop that sleeps on a wake-up of its own (one timer of a host loop, as `nodeTimer` uses one
 * of Node's) passes `changed`, re-arms that wake-up for {@link TimerQueue.earliest} and holds the
 * host process open while {@link TimerQueue.keepsAlive}.
 *
 * @example
 * ```ts
 * class MyPoller implements Poller {
 *   private readonly timers = new TimerQueue(() => performance.now());
 *   timer(ms: number, fn: () => void): Timer {
 *     return this.timers.add(ms, fn);
 *   }
 *   now(): number {
 *     return performance.now();
 *   }
 *   turn(): void {
 *     waitForReadiness(this.timers.timeout()); // -1: no timer, block until readiness
 *     dispatchWhatIsReady();
 *     this.timers.run();
 *   }
 *   // add, modify, remove, job …
 * }
 * ```
 */
export class TimerQueue {
  private readonly heap: QueuedTimer[] = [];
  private sequence = 0;
  /** Waiting timers that asked to keep the process alive. */
  private keepingAlive = 0;

  /**
   * @param now - the clock deadlines are measured on, in ms; {@link Poller.now} must read the same one
   * @param changed - called after every {@link TimerQueue.add} and every cancel of a waiting timer
   * (from anywhere, a running timer included): {@link TimerQueue.earliest} or
   * {@link TimerQueue.keepsAlive} may differ
   */
  constructor(
    private readonly now: () => number,
    private readonly changed?: () => void,
  ) {}

  /** Timers waiting to run. */
  get size(): number {
    return this.heap.length;
  }

  /** The deadline of the earliest waiting timer on the queue's clock; `Infinity` when none waits. */
  get earliest(): number {
    return this.heap[0]?.deadline ?? Number.POSITIVE_INFINITY;
  }

  /** Whether a waiting timer was added with `keepAlive`. */
  get keepsAlive(): boolean {
    return this.keepingAlive > 0;
  }

  /**
   * Schedules `fn` to run `ms` milliseconds from now. It never runs from inside this call.
   *
   * @param ms - the delay; below 0 counts as 0, above {@link MAX_TIMER_DELAY} as that
   * @param keepAlive - recorded for {@link TimerQueue.keepsAlive}; the queue itself ignores it
   * @throws RangeError if `ms` is NaN
   */
  add(ms: number, fn: () => void, keepAlive = false): Timer {
    const heap = this.heap;
    const timer = new QueuedTimer(this.now() + timerDelay(ms), this.sequence++, fn, keepAlive, this);
    timer.index = heap.length;
    heap.push(timer);
    up(heap, timer.index);
    if (keepAlive) this.keepingAlive++;
    this.changed?.();
    return timer;
  }

  /**
   * How long a loop may block before the earliest timer is due: whole milliseconds, rounded up so
   * a wake-up never comes early; 0 when one is due already; -1 when no timer waits.
   */
  timeout(): number {
    const first = this.heap[0];
    if (first === undefined) return -1;
    return Math.max(0, Math.ceil(first.deadline - this.now()));
  }

  /**
   * Runs the timers that are due, earliest deadline first, ties in the order they were made.
   * Timers made while it runs wait for the next call even if due already, so a timer that
   * schedules itself with no delay cannot starve the loop. A timer cancelled by one that ran
   * before it in the same call does not run. A throwing timer does not stop the others; its
   * error surfaces as an uncaught exception, as from any callback.
   *
   * @returns how many ran
   */
  run(): number {
    const heap = this.heap;
    const now = this.now();
    if (heap.length === 0 || heap[0]!.deadline > now) return 0;
    const due: QueuedTimer[] = [];
    while (heap.length > 0 && heap[0]!.deadline <= now) {
      const timer = heap[0]!;
      remove(heap, timer);
      due.push(timer);
    }
    let ran = 0;
    for (const timer of due) {
      // Cancelled by a timer that ran before it in this batch.
      if (!timer.take()) continue;
      if (timer.keepAlive) this.keepingAlive--;
      ran++;
      try {
        timer.fn();
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    return ran;
  }

  /** @internal Called by a timer's first `cancel()`: it may still be in the heap or in a running batch. */
  cancelled(timer: QueuedTimer): void {
    remove(this.heap, timer);
    if (timer.keepAlive) this.keepingAlive--;
    this.changed?.();
  }
}

function before(a: QueuedTimer, b: QueuedTimer): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.sequence < b.sequence);
}

function remove(heap: QueuedTimer[], timer: QueuedTimer): void {
  const index = timer.index;
  if (index < 0) return;
  timer.index = -1;
  const last = heap.pop()!;
  if (last === timer) return;
  heap[index] = last;
  last.index = index;
  down(heap, index);
  up(heap, last.index);
}

function up(heap: QueuedTimer[], index: number): void {
  const timer = heap[index]!;
  while (index > 0) {
    const parentIndex = (index - 1) >> 1;
    const parent = heap[parentIndex]!;
    if (!before(timer, parent)) break;
    heap[index] = parent;
    parent.index = index;
    index = parentIndex;
  }
  heap[index] = timer;
  timer.index = index;
}

function down(heap: QueuedTimer[], index: number): void {
  const timer = heap[index]!;
  const size = heap.length;
  for (;;) {
    let child = 2 * index + 1;
    if (child >= size) break;
    if (child + 1 < size && before(heap[child + 1]!, heap[child]!)) child++;
    const next = heap[child]!;
    if (!before(next, timer)) break;
    heap[index] = next;
    next.index = index;
    index = child;
  }
  heap[index] = timer;
  timer.index = index;
}

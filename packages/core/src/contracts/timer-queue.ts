// TimerQueue, the `timer` half of a Poller for poller authors (contracts layer).
import type { Poller, Timer } from './poller.js';

/** One scheduled call, at `index` in its heap until it runs or is cancelled. */
class QueuedTimer implements Timer {
  index = -1;
  constructor(
    readonly deadline: number,
    /** Order of creation: breaks ties between equal deadlines. */
    readonly sequence: number,
    readonly fn: () => void,
    /** The heap it waits in; undefined once it ran or was cancelled. */
    private heap: QueuedTimer[] | undefined,
  ) {}

  cancel(): void {
    const heap = this.heap;
    if (heap === undefined) return;
    this.heap = undefined;
    remove(heap, this);
  }

  /** Marks the timer as run; false if it was cancelled since it left the heap. */
  take(): boolean {
    if (this.heap === undefined) return false;
    this.heap = undefined;
    return true;
  }
}

/**
 * The `timer` half of a {@link Poller}, for poller authors whose loop keeps its own time: a
 * priority queue of deadlines on the clock it is given. The loop asks {@link TimerQueue.timeout}
 * how long it may block, and calls {@link TimerQueue.run} after each wait. Scheduling and
 * cancelling cost O(log n), so thousands of request timeouts stay cheap.
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

  /** @param now - the clock deadlines are measured on, in ms; {@link Poller.now} must read the same one */
  constructor(private readonly now: () => number) {}

  /** Timers waiting to run. */
  get size(): number {
    return this.heap.length;
  }

  /** Schedules `fn` to run `ms` milliseconds from now (a negative `ms` counts as 0). */
  add(ms: number, fn: () => void): Timer {
    const heap = this.heap;
    const timer = new QueuedTimer(this.now() + Math.max(0, ms), this.sequence++, fn, heap);
    timer.index = heap.length;
    heap.push(timer);
    up(heap, timer.index);
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
   * schedules itself with no delay cannot starve the loop. A throwing timer does not stop the
   * others; its error surfaces as an uncaught exception, as from any callback.
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

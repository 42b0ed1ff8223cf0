// nodeTimer, Poller.timer on Node's own event loop, for poller authors (contracts layer).
import type { MAX_TIMER_DELAY, Poller, Timer } from './poller.js';
import { TimerQueue } from './timer-queue.js';

/**
 * Every nodeTimer of this thread, woken by one Node timer. Node's timers count whole milliseconds of
 * a clock of their own and fire up to a millisecond before their deadline by `performance.now()`,
 * and run timers of different delays in no defined order once the loop is late; the queue keeps
 * both promises of {@link Poller.timer} on the clock {@link Poller.now} reads, and an early
 * wake-up only arms the Node timer again for what is left.
 */
const queue = new TimerQueue(() => performance.now(), armWakeUp);
let wakeUp: ReturnType<typeof setTimeout> | undefined;
/** The deadline `wakeUp` was armed for. */
let wakeUpAt = Number.POSITIVE_INFINITY;

/** Arms `wakeUp` for the earliest timer unless it is armed for that or sooner; refs it while a keepAlive timer waits. */
function armWakeUp(): void {
  const earliest = queue.earliest;
  if (earliest < wakeUpAt) {
    if (wakeUp !== undefined) clearTimeout(wakeUp);
    wakeUpAt = earliest;
    wakeUp = setTimeout(wake, queue.timeout());
  }
  // A wake-up armed for a timer since cancelled stays armed: it finds nothing due and re-arms.
  if (wakeUp === undefined) return;
  if (queue.keepsAlive) wakeUp.ref();
  else wakeUp.unref();
}

function wake(): void {
  wakeUp = undefined;
  wakeUpAt = Number.POSITIVE_INFINITY;
  queue.run();
  armWakeUp();
}

class NodeImmediate implements Timer {
  constructor(private readonly handle: ReturnType<typeof setImmediate>) {}

  cancel(): void {
    clearImmediate(this.handle);
  }
}

/**
 * For poller authors whose fds are served by Node's own event loop: {@link Poller.timer} on
 * Node's timers, with the deadlines kept on `performance.now()`, which the poller's
 * {@link Poller.now} must return. A 0 ms timer runs on the loop's next turn (`setImmediate`: after
 * pending promise continuations and I/O, without the 1 ms floor of `setTimeout`), and holds the
 * process for that turn. A longer timer that is not `keepAlive` never holds the process open by
 * itself; a `keepAlive` one does until it runs or is cancelled.
 *
 * @param ms - the delay; below 0 counts as 0, above {@link MAX_TIMER_DELAY} as that
 * @throws RangeError if `ms` is NaN
 */
export function nodeTimer(ms: number, fn: () => void, keepAlive = false): Timer {
  if (ms <= 0) {
    // Never unreferenced: Node's loop does not skip its poll wait for an unreferenced immediate, so
    // one would wait for whatever else wakes the loop. It holds the process for one turn at most.
    return new NodeImmediate(setImmediate(fn));
  }
  return queue.add(ms, fn, keepAlive);
}

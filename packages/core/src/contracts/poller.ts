// The Poller contract: what the engines need of an event loop (contracts layer).
import type { IpcError } from '../errors.js';

/**
 * Readiness bits, used both for the interest an engine registers and for what a poller reports.
 * `HangUp` and `Error` are only ever reported, never requested; see {@link Poller} for when.
 */
export const Ready = {
  /** Data (or end of file) can be read without blocking. */
  Readable: 1,
  /** Data can be written without blocking. */
  Writable: 2,
  /**
   * The peer hung up; a read will return what is left, then end of file. With `Readable` interest
   * this includes a peer that only shut its writing side; without, only a peer gone both ways.
   */
  HangUp: 4,
  /** An error is pending on the fd; a read or write will report it. */
  Error: 8,
} as const;

/** A bit mask of {@link Ready} flags. */
export type ReadyMask = number;

/** Called by a poller when an fd it watches is ready. `ready` is a mask of {@link Ready} bits. */
export type DispatchFn = (fd: number, ready: ReadyMask) => void;

/** A pending call that {@link Poller.timer} scheduled. */
export interface Timer {
  /** Stops the timer: its callback does not run. Does nothing once it ran or was cancelled. */
  cancel(): void;
}

/** The longest delay {@link Poller.timer} must accept, in ms (2^31 - 1, about 24.8 days). */
export const MAX_TIMER_DELAY = 0x7fffffff;

/**
 * What the engine needs of an event loop, and nothing more (libqb's poll handlers).
 *
 * The engine calls {@link Poller.add} for a listening fd with its accept handler and for each
 * connection with its dispatch handler; the poller only reports readiness. Time comes through the
 * poller too: every delay the engine keeps (handshake and request timeouts, retry backoff, rate
 * refills, close deadlines) is a {@link Poller.timer}, and every duration it measures reads
 * {@link Poller.now}, so a host loop that never lets Node's loop turn still keeps time. Implement
 * these six methods to drive pollux from any loop: Node's, epoll, or a host application's own
 * mainloop. `JobQueue` and `TimerQueue` do the bookkeeping of `job` and `timer` for a
 * loop of your own; `@pollux/core/testing` holds a conformance suite for implementations.
 *
 * Readiness must be level-triggered as seen by the engine: while an fd stays readable and has
 * Readable interest, `dispatch` keeps being called. The engine caps the work done per call for
 * fairness and relies on being called again.
 *
 * Hang-up and errors are reported whatever the interest, an empty one included, so a connection
 * whose reading is paused still learns that its peer died:
 * - `Ready.Error` whenever an error is pending on the fd (`POLLERR`);
 * - `Ready.HangUp` when the peer is gone both ways (`POLLHUP`: it closed, crashed or was killed);
 * - with `Readable` interest, also when the peer only shut its writing side (`POLLRDHUP`). Without
 *   it, such a half-close is not reported: the peer may still read our answers, and reporting it
 *   would fire on every turn while the engine is not reading.
 *
 * Both stay level-triggered: reported on every turn until the fd is removed. A modify never takes
 * the fd out of the set the backend polls; only {@link Poller.remove} does.
 *
 * What comes with them follows one rule: a readiness bit means the matching call will not block.
 * A pending error, or a peer gone both ways, makes every read and write return at once (with the
 * error, end of file or `EPIPE`), so `Ready.Error` and that `Ready.HangUp` come with every I/O bit
 * of the interest (none for an empty one); a half-close comes with `Readable`. The engine does the
 * I/O it is told to and learns what happened from that call. `Readable` and `Writable` are only
 * ever reported while the interest wants them. `readinessFrom` applies this rule to a backend's
 * own event bits.
 */
export interface Poller {
  /**
   * Starts watching `fd` for `interest` (a mask of `Ready.Readable` and `Ready.Writable`).
   *
   * @throws {@link IpcError} `EEXIST` if the fd is already watched, or the backend's errno.
   */
  add(fd: number, interest: ReadyMask, dispatch: DispatchFn): void;
  /**
   * Changes what `fd` is watched for, e.g. adds `Ready.Writable` while a send queue drains. An
   * empty interest still reports hang-up and errors (see {@link Poller}).
   *
   * @throws {@link IpcError} `ENOENT` if the fd is not watched.
   */
  modify(fd: number, interest: ReadyMask): void;
  /**
   * Stops watching `fd`. After it returns, `dispatch` is never called for `fd` again, even for
   * readiness already fetched from the kernel in the same batch. Removing an fd that is not watched
   * does nothing. Safe to call from inside any dispatch callback.
   */
  remove(fd: number): void;
  /** Runs `fn` soon, after the current dispatch callback has returned. Jobs run in order. */
  job(fn: () => void): void;
  /**
   * Calls `fn` once, `ms` milliseconds from now by {@link Poller.now} or later, never sooner and
   * never from inside this call. Timers run in the order of their deadlines, those due at the same
   * moment in the order they were made; a timer cancelled by one that ran before it, even in the
   * same turn, does not run. A loop that blocks waiting for readiness must wake for the earliest
   * timer. `TimerQueue` (a loop of your own) and `nodeTimer` (Node's loop) keep these promises.
   *
   * @param ms - the delay, from 0 to {@link MAX_TIMER_DELAY}; below counts as 0, above as
   * {@link MAX_TIMER_DELAY}
   * @param keepAlive - whether this timer alone keeps the host process running (Node's
   * `ref`) until it runs or is cancelled; the engine asks for it only while a caller awaits the
   * outcome. A loop without the notion ignores it.
   * @throws RangeError if `ms` is NaN
   */
  timer(ms: number, fn: () => void, keepAlive?: boolean): Timer;
  /**
   * Milliseconds on a monotonic clock, the one {@link Poller.timer} counts in (e.g.
   * `performance.now()`). The engine measures every duration with it. Never goes back.
   */
  now(): number;
}

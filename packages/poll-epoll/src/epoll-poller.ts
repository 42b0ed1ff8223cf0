// EpollPoller: a Poller on one epoll instance, through the npm `epoll` binding.
import {
  interestEvents,
  IpcError,
  JobQueue,
  nodeTimer,
  readinessFrom,
  runAsMicrotask,
  type DispatchFn,
  type Poller,
  type ReadinessBits,
  type ReadyMask,
  type Timer,
} from '@pollux/core';
import { Epoll, epollError, type EpollHandle } from './epoll-binding.js';

const { EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLERR, EPOLLHUP } = Epoll;

/** One `add`: the fd's owner, its handler and what it is watched for. */
interface Registration {
  readonly poller: EpollPoller;
  readonly dispatch: DispatchFn;
  /** What the engine asked for. */
  interest: ReadyMask;
  /** The epoll events registered with the binding; 0 still reports `EPOLLHUP` and `EPOLLERR`. */
  events: number;
}

// The binding has one epoll set and one watcher thread for the whole process, and routes each
// event by fd number alone, so the state that judges an event is process-wide too.

/** Every fd watched by any EpollPoller of this process, by number. */
const registrations = new Map<number, Registration>();

/**
 * fd numbers removed since the last event was delivered, while an event may have been in flight:
 * the watcher thread may hold one fetched before the remove. Cleared by every delivery, because
 * the thread holds at most one event and fetches the next only after a delivery returns.
 */
const removedWhileInFlight = new Set<number>();

/** True while a dispatch runs; the watcher thread is then parked, so nothing is in flight. */
let delivering = false;

const EPOLL_BITS: ReadinessBits = {
  readable: EPOLLIN,
  hangUp: EPOLLRDHUP,
  writable: EPOLLOUT,
  hangUpBoth: EPOLLHUP,
  error: EPOLLERR,
};

/** Translates engine interest into epoll events. */
function epollEvents(interest: ReadyMask): number {
  return interestEvents(interest, EPOLL_BITS);
}

/** The callback of every binding `Epoll` object this package makes. */
function deliver(error: Error | null, fd?: number, events?: number): void {
  if (error !== null || fd === undefined || events === undefined) throw epollError(error, 'epoll_wait');
  const stale = removedWhileInFlight.size !== 0 && removedWhileInFlight.has(fd);
  removedWhileInFlight.clear();
  const registration = registrations.get(fd);
  // A removed fd, or one whose number was reused by a later add while an event of the old one
  // was in flight. Dropping a genuine event is harmless: level-triggered epoll reports it again.
  if (registration === undefined || stale) return;
  const ready = readinessFrom(events, registration.interest, EPOLL_BITS);
  if (ready === 0) return;
  delivering = true;
  try {
    registration.dispatch(fd, ready);
  } finally {
    delivering = false;
  }
}

/**
 * A {@link @pollux/core!index.Poller} on raw epoll through the npm `epoll` binding, for hosts that want
 * pollux's fds in an epoll set of their own rather than in libuv's.
 *
 * How the binding works shapes everything here. Loading it creates one epoll fd and one watcher
 * thread for the whole process. The thread calls `epoll_wait` for one event, hands it to the main
 * thread through a `uv_async_t`, and waits on a semaphore until the main thread has run the
 * callback; only then does it fetch the next event. So events arrive one per loop wake-up, and at
 * most one is ever in flight.
 *
 * - **Level-triggered.** The engine reads once per dispatch for fairness and counts on being
 *   called again while data remains; with level-triggered epoll the thread's next `epoll_wait`
 *   returns the fd again, after the other ready fds (the kernel requeues it at the tail). Edge
 *   triggering would need the poller to remember unfinished fds and re-dispatch them itself, i.e.
 *   re-implement level triggering in JavaScript, and the binding's one-event hand-off buys
 *   nothing from it.
 * - **Interest.** `Readable` asks for `EPOLLIN | EPOLLRDHUP`, `Writable` for `EPOLLOUT`
 *   (`modify` switches it while a send queue drains). Interest 0 keeps the fd in the epoll set
 *   with no events: the kernel still reports `EPOLLHUP`/`EPOLLERR`, so a paused connection learns
 *   that its peer died, as the Poller contract promises. Events become Ready bits by core's
 *   {@link @pollux/core!index.readinessFrom}, the rule of every poller: `EPOLLRDHUP` (while
 *   reading) becomes `HangUp | Readable`; `EPOLLHUP` becomes `HangUp` and `EPOLLERR` `Error`,
 *   each with every I/O bit of the interest, so the engine's read or write reports what happened.
 * - **Remove.** After `remove` returns, the fd is dispatched never again: each event is looked up
 *   in the registrations when it arrives, so one already fetched by the thread finds nothing and
 *   is dropped. If the fd number was reused by a later `add` before that stale event arrived, it
 *   would find the new registration and report the old file's readiness (the binding itself
 *   routes by number and does deliver it). So an fd number removed outside a dispatch is marked
 *   until the next event arrives; an event for a marked number is dropped. A genuine event
 *   dropped this way costs one extra wake-up: level-triggered epoll reports it again. Removes
 *   inside a dispatch need no mark, as the thread is parked then. Safe from any dispatch callback.
 * - **Exit.** The binding keeps the process alive while any fd is in its set. When the last fd
 *   is removed, the binding's `Epoll` object is closed (its callback released) and a new one is
 *   made by the next `add`. The watcher thread belongs to the binding and lives as long as the
 *   process; blocked in `epoll_wait`, it does not hold the process up.
 * - **Jobs** run as microtasks, after the current dispatch and before the watcher thread fetches
 *   the next event, in the order queued (core's {@link @pollux/core!index.JobQueue}).
 * - **Timers** run on Node's loop (core's {@link @pollux/core!index.nodeTimer}): the binding's
 *   thread delivers readiness and Node's loop wakes for timers; only a `keepAlive` timer holds the
 *   process open.
 *
 * Every fd must be removed before it is closed (as with any poller): the binding cannot take a
 * closed fd out of its books, and would keep the process alive.
 *
 * @example
 * ```ts
 * const poller = new EpollPoller();
 * const server = new IpcServer({ poller, transport: new SocketTransport() });
 * ```
 */
export class EpollPoller implements Poller {
  private readonly registrations = new Map<number, Registration>();
  private epoll: EpollHandle | undefined;
  /** Set when the binding failed to remove an fd: closing its `Epoll` object would be unsafe. */
  private epollStuck = false;
  private readonly jobs = new JobQueue();
  private readonly runJobs = (): void => this.jobs.run();

  /** Number of fds being watched, including those with an empty interest. */
  get size(): number {
    return this.registrations.size;
  }

  /**
   * Starts watching `fd` for `interest`, a mask of `Ready.Readable` and `Ready.Writable`.
   *
   * @throws {@link @pollux/core!index.IpcError} `EEXIST` if `fd` is already watched by an `EpollPoller`
   * of this process (they share the binding's epoll set), or the errno `epoll_ctl` reported
   * (e.g. `EBADF`, or `EPERM` for a regular file).
   */
  add(fd: number, interest: ReadyMask, dispatch: DispatchFn): void {
    const owner = registrations.get(fd);
    if (owner !== undefined) {
      const by = owner.poller === this ? 'this poller' : 'another EpollPoller';
      throw new IpcError('EEXIST', `fd ${fd} is already watched by ${by}`);
    }
    const registration: Registration = { poller: this, dispatch, interest, events: epollEvents(interest) };
    try {
      this.instance().add(fd, registration.events);
    } catch (error) {
      if (this.registrations.size === 0) this.release();
      throw epollError(error, `watch fd ${fd}`);
    }
    this.registrations.set(fd, registration);
    registrations.set(fd, registration);
  }

  /**
   * Changes what `fd` is watched for; with an empty interest only a hang-up or an error is reported.
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` if `fd` is not watched by this poller, or the
   * errno `epoll_ctl` reported.
   */
  modify(fd: number, interest: ReadyMask): void {
    const registration = this.registrations.get(fd);
    if (registration === undefined) throw new IpcError('ENOENT', `fd ${fd} is not watched by this poller`);
    const events = epollEvents(interest);
    if (events !== registration.events) {
      try {
        this.instance().modify(fd, events);
      } catch (error) {
        throw epollError(error, `change the interest of fd ${fd}`);
      }
      registration.events = events;
    }
    registration.interest = interest;
  }

  /**
   * Stops watching `fd`; no dispatch for it follows, not even of an event the binding's thread
   * had already fetched. Does nothing for an fd that is not watched. Remove before closing the fd.
   */
  remove(fd: number): void {
    const registration = this.registrations.get(fd);
    if (registration === undefined) return;
    this.registrations.delete(fd);
    registrations.delete(fd);
    if (!delivering) removedWhileInFlight.add(fd);
    try {
      this.instance().remove(fd);
    } catch (error) {
      // The fd was closed before it was removed. The kernel has dropped it, but the binding
      // still counts it: its Epoll object must stay open, and it keeps the process alive.
      this.epollStuck = true;
      process.emitWarning(
        `fd ${fd} was closed before EpollPoller.remove: ${epollError(error, 'epoll_ctl(EPOLL_CTL_DEL)').message}; ` +
          'the epoll binding keeps counting it and will hold the process open',
        { code: 'POLLUX_EPOLL_CLOSED_FD' },
      );
    }
    if (this.registrations.size === 0) this.release();
  }

  /** Runs `fn` as a microtask, after the current dispatch; jobs run in the order queued. */
  job(fn: () => void): void {
    if (this.jobs.push(fn)) runAsMicrotask(this.runJobs);
  }

  /**
   * Runs `fn` from Node's loop, `ms` milliseconds from now by {@link EpollPoller.now} or later; only
   * a `keepAlive` timer holds the process open (see {@link @pollux/core!index.nodeTimer}).
   *
   * @throws RangeError if `ms` is NaN
   */
  timer(ms: number, fn: () => void, keepAlive?: boolean): Timer {
    return nodeTimer(ms, fn, keepAlive);
  }

  /** `performance.now()`, the clock {@link EpollPoller.timer} counts in. */
  now(): number {
    return performance.now();
  }

  /**
   * Removes every fd and closes the binding's `Epoll` object, so nothing of this poller holds the
   * process open. Idempotent; the poller can still be used afterwards.
   */
  close(): void {
    for (const fd of [...this.registrations.keys()]) this.remove(fd);
    this.release();
  }

  /** The binding's `Epoll` object, made on first use. */
  private instance(): EpollHandle {
    this.epoll ??= new Epoll(deliver);
    return this.epoll;
  }

  /** Lets go of the binding's `Epoll` object, closing it unless the binding lost track of an fd. */
  private release(): void {
    const epoll = this.epoll;
    if (epoll === undefined) return;
    this.epoll = undefined;
    // Closing an Epoll object that still owns a closed fd would leave the binding routing that
    // fd number's events to a freed callback; left open, it routes them to `deliver`, which
    // looks up the current owner.
    if (!this.epollStuck) epoll.close();
    this.epollStuck = false;
  }
}

// NodePoller: a Poller on Node's own event loop, one libuv poll watcher per fd.
import {
  interestEvents,
  IpcError,
  JobQueue,
  nodeTimer,
  Ready,
  readinessFrom,
  runAsMicrotask,
  type DispatchFn,
  type Poller,
  type ReadinessBits,
  type ReadyMask,
  type Timer,
} from '@pollux/core';
import { FdWatcher, WATCH_DISCONNECT, WATCH_PRIORITIZED, WATCH_READABLE, WATCH_WRITABLE } from '@pollux/sys';

/** libuv reports `POLLERR` as a negative status with no events; this bit, above libuv's, stands for it. */
const WATCH_ERROR = 0x100;

/**
 * libuv's bits. A peer gone both ways reaches a watcher without `Readable` interest as
 * `WATCH_PRIORITIZED` (see `watchEvents`); with it, as `WATCH_READABLE | WATCH_DISCONNECT`, which
 * reads the same: `HangUp | Readable`, and `Writable` when libuv also reports it.
 */
const WATCH_BITS: ReadinessBits = {
  readable: WATCH_READABLE,
  hangUp: WATCH_DISCONNECT,
  writable: WATCH_WRITABLE,
  hangUpBoth: WATCH_PRIORITIZED,
  error: WATCH_ERROR,
};

/**
 * Translates engine interest into libuv poll events. libuv stops a watcher asked for nothing,
 * and a stopped watcher hears no hang-up; without Readable, `WATCH_PRIORITIZED` keeps it in the
 * epoll set, where a full hang-up is reported as that flag (see its doc in `@pollux/sys`).
 */
function watchEvents(interest: ReadyMask): number {
  const events = interestEvents(interest, WATCH_BITS);
  return interest & Ready.Readable ? events : events | WATCH_PRIORITIZED;
}

/**
 * One watched fd: its libuv watcher, carrying what the engine asked for. Every watch shares one
 * callback ({@link onWatchEvent}, called with the watch as `this`), so a connection costs the
 * poller one object, not a watcher, a record and a closure with its context.
 */
class Watch extends FdWatcher {
  /** The libuv events last asked for, to re-arm after libuv stopped the watcher on an error. */
  events: number;
  /** False once removed: an error callback must not re-arm a watcher that was closed. */
  watched = true;

  constructor(
    readonly fd: number,
    /** What the engine asked for. */
    public interest: ReadyMask,
    readonly dispatch: DispatchFn,
  ) {
    super(fd, onWatchEvent);
    this.events = watchEvents(interest);
  }
}

function onWatchEvent(this: Watch, status: number, events: number): void {
  // Called unbound, as before: the engine's callback gets no hold of the watcher.
  const dispatch = this.dispatch;
  if (status >= 0) {
    const ready = readinessFrom(events, this.interest, WATCH_BITS);
    if (ready !== 0) dispatch(this.fd, ready);
    return;
  }
  // On POLLERR libuv stops the watcher. Data may still be queued ahead of the error, so the
  // engine reads it (or writes, if that is what it waits for), and the watcher is re-armed until
  // that call reports the error.
  try {
    dispatch(this.fd, readinessFrom(WATCH_ERROR, this.interest, WATCH_BITS));
  } finally {
    if (this.watched) this.start(this.events);
  }
}

/**
 * A {@link Poller} on Node.js's own event loop: each fd gets a libuv `uv_poll_t` (level-triggered
 * epoll underneath), so pollux's fds are served by the same loop as timers, `fs` and `net`, with no
 * thread hop. Jobs run as microtasks, right after the current callback. Readiness is translated by
 * core's {@link @pollux/core!index.readinessFrom}, the rule of every poller; with `Writable`
 * interest alone, libuv reports a peer gone both ways as `Writable` while the socket takes writes
 * (the write then fails with `EPIPE`). Timers are core's {@link @pollux/core!index.nodeTimer}:
 * Node's loop wakes for them, and only a `keepAlive` one holds the process open.
 *
 * @example
 * ```ts
 * const poller = new NodePoller();
 * const server = new IpcServer({ poller, transport: new SocketTransport() });
 * ```
 */
export class NodePoller implements Poller {
  private readonly watches = new Map<number, Watch>();
  private readonly jobs = new JobQueue();
  private readonly runJobs = (): void => this.jobs.run();

  /** Number of fds being watched. */
  get size(): number {
    return this.watches.size;
  }

  /**
   * Starts watching `fd`.
   *
   * @throws {@link @pollux/core!index.IpcError} `EEXIST` if `fd` is already watched, or the errno libuv reported
   * (e.g. `EBADF`).
   */
  add(fd: number, interest: ReadyMask, dispatch: DispatchFn): void {
    if (this.watches.has(fd)) throw new IpcError('EEXIST', `fd ${fd} is already watched by this poller`);
    let watch: Watch;
    try {
      watch = new Watch(fd, interest, dispatch);
    } catch (error) {
      throw IpcError.from(error, 'EIO');
    }
    try {
      watch.start(watch.events);
    } catch (error) {
      watch.close();
      throw IpcError.from(error, 'EIO');
    }
    this.watches.set(fd, watch);
  }

  /**
   * Changes what `fd` is watched for; with an empty interest only a hang-up or an error is reported.
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` if `fd` is not watched.
   */
  modify(fd: number, interest: ReadyMask): void {
    const watch = this.watches.get(fd);
    if (watch === undefined) throw new IpcError('ENOENT', `fd ${fd} is not watched by this poller`);
    const events = watchEvents(interest);
    watch.interest = interest;
    watch.events = events;
    try {
      watch.start(events);
    } catch (error) {
      throw IpcError.from(error, 'EIO');
    }
  }

  /** Stops watching `fd`; no dispatch for it follows, even from the current loop iteration. */
  remove(fd: number): void {
    const watch = this.watches.get(fd);
    if (watch === undefined) return;
    this.watches.delete(fd);
    watch.watched = false;
    watch.close();
  }

  /** Runs `fn` as a microtask, after the current callback; jobs run in the order queued. */
  job(fn: () => void): void {
    if (this.jobs.push(fn)) runAsMicrotask(this.runJobs);
  }

  /**
   * Runs `fn` from Node's loop, `ms` milliseconds from now by {@link NodePoller.now} or later; only
   * a `keepAlive` timer holds the process open (see {@link @pollux/core!index.nodeTimer}).
   *
   * @throws RangeError if `ms` is NaN
   */
  timer(ms: number, fn: () => void, keepAlive?: boolean): Timer {
    return nodeTimer(ms, fn, keepAlive);
  }

  /** `performance.now()`, the clock {@link NodePoller.timer} counts in. */
  now(): number {
    return performance.now();
  }
}

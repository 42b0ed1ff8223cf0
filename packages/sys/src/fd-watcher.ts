// FdWatcher: a libuv poll watcher on one fd, on Node's own loop.
import { native } from './native.js';

/** Watch interest and reported event: the fd is readable (`UV_READABLE`). */
export const WATCH_READABLE: number = native.WATCH_READABLE;
/** Watch interest and reported event: the fd is writable (`UV_WRITABLE`). */
export const WATCH_WRITABLE: number = native.WATCH_WRITABLE;
/** Watch interest and reported event: the peer shut down its writing side (`UV_DISCONNECT`, `EPOLLRDHUP`). */
export const WATCH_DISCONNECT: number = native.WATCH_DISCONNECT;
/**
 * Watch interest and reported event: urgent data is waiting (`UV_PRIORITIZED`, `POLLPRI`). A
 * started watcher is in libuv's epoll set, and epoll reports a full hang-up (`EPOLLHUP`) for any
 * fd in it; libuv hands such a bare hang-up on as the events watched for, so watching only this
 * flag on a socket that never gets urgent data (a Unix socket) reports exactly the peer's hang-up.
 */
export const WATCH_PRIORITIZED: number = native.WATCH_PRIORITIZED;

/**
 * Where a watcher keeps its callback. The addon calls one function for every watcher's events
 * (see the static block below); a registered symbol lets it find the callback of a watcher made
 * by any copy of this module in the process, since all of them share the one addon.
 */
const ON_EVENT: unique symbol = Symbol.for('@pollux/sys FdWatcher onEvent') as never;

/**
 * Readiness callbacks for a raw fd on Node's own event loop (a libuv `uv_poll_t`).
 *
 * Lifecycle: construct, {@link FdWatcher.start} (again to change interest),
 * {@link FdWatcher.stop}, {@link FdWatcher.close}. Close the watcher before
 * closing its fd: libuv tracks watchers by fd number. A started watcher keeps
 * itself alive (and, unless {@link FdWatcher.unref}'d, the process); a stopped
 * one that becomes unreachable is closed when collected.
 *
 * `onEvent(status, events)` runs like any Node callback: microtasks run after
 * it, and an exception it throws goes to `process.on('uncaughtException')`
 * without harming the watcher. `status` is 0, or a negative libuv error: on
 * `POLLERR` (for example a peer that closed with unread data) libuv reports
 * `-EBADF` and stops the watcher; call `socketError(fd)` for the real cause.
 */
export class FdWatcher {
  static {
    native.watcherDispatchTo(function (this: FdWatcher, status: number, events: number): void {
      this[ON_EVENT](status, events);
    });
  }

  // The native side holds no reference to the callback: it lives as long as the watcher does,
  // so a callback that captures its watcher does not pin both forever.
  private readonly [ON_EVENT]: (status: number, events: number) => void;

  /**
   * Wraps `fd` in a watcher (`uv_poll_init`); nothing is watched until {@link FdWatcher.start}.
   *
   * libuv switches `fd` to non-blocking mode. Only one watcher per fd may exist at a time.
   *
   * @param fd - fd to watch (socket, pipe, eventfd, ...; not a regular file)
   * @param onEvent - called with `(status, events)`; `events` is a mask of `WATCH_*` flags
   * @throws {@link SysError} `EEXIST` (the fd already has a watcher), `EPERM` (fd cannot be polled), `EBADF`
   * @throws TypeError if `onEvent` is not a function
   */
  constructor(fd: number, onEvent: (status: number, events: number) => void) {
    if (typeof onEvent !== 'function') throw new TypeError('onEvent must be a function');
    this[ON_EVENT] = onEvent;
    native.watcherInit(this, fd);
  }

  /**
   * Starts watching for `events`, or changes the interest of a started watcher (`uv_poll_start`).
   * An empty mask stops the watcher.
   *
   * @param events - mask of {@link WATCH_READABLE}, {@link WATCH_WRITABLE}, {@link WATCH_DISCONNECT}, {@link WATCH_PRIORITIZED}
   * @throws {@link SysError} `EBADF` (watcher closed), `EEXIST`, `ENOMEM`
   * @throws RangeError for unknown flags
   */
  start(events: number): void {
    native.watcherStart(this, events);
  }

  /**
   * Stops watching (`uv_poll_stop`). From the moment it returns no event is
   * delivered, not even one libuv already fetched in the current loop
   * iteration. Safe inside any watcher's callback; a no-op if not started or closed.
   */
  stop(): void {
    native.watcherStop(this);
  }

  /**
   * Stops and closes the watcher and releases the callback; it never calls
   * `onEvent` again. Idempotent, safe inside any watcher's callback. The fd
   * itself stays open.
   */
  close(): void {
    native.watcherClose(this);
  }

  /** Lets the watcher, while started, keep the process alive (the default). */
  ref(): void {
    native.watcherRef(this);
  }

  /** Lets the process exit even while this watcher is started. */
  unref(): void {
    native.watcherUnref(this);
  }
}

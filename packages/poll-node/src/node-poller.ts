import { interestEvents, IpcError, JobQueue, Ready, type DispatchFn, type Poller, type ReadyMask } from '@pollux/core';
import { FdWatcher, WATCH_DISCONNECT, WATCH_READABLE, WATCH_WRITABLE } from '@pollux/sys';

interface Watch {
  readonly watcher: FdWatcher;
  /** The libuv events last asked for, to re-arm after libuv stopped the watcher on an error. */
  events: number;
}

const WATCH_BITS = { readable: WATCH_READABLE, hangUp: WATCH_DISCONNECT, writable: WATCH_WRITABLE };

/** Translates engine interest into libuv poll events. */
function watchEvents(interest: ReadyMask): number {
  return interestEvents(interest, WATCH_BITS);
}

/**
 * A {@link Poller} on Node.js's own event loop: each fd gets a libuv `uv_poll_t` (level-triggered
 * epoll underneath), so pollux's fds are served by the same loop as timers, `fs` and `net`, with no
 * thread hop. Jobs run as microtasks, right after the current callback.
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
    const watch: Watch = {
      watcher: new FdWatcher(fd, (status, events) => {
        if (status >= 0) {
          dispatch(fd, events & (Ready.Readable | Ready.Writable | Ready.HangUp));
          return;
        }
        // On POLLERR libuv stops the watcher. Data may still be queued ahead of the error, so
        // the engine reads it, and the watcher is re-armed until the read reports the error.
        try {
          dispatch(fd, Ready.Error | Ready.Readable);
        } finally {
          if (this.watches.get(fd) === watch && watch.events !== 0) watch.watcher.start(watch.events);
        }
      }),
      events: watchEvents(interest),
    };
    try {
      if (watch.events !== 0) watch.watcher.start(watch.events);
    } catch (error) {
      watch.watcher.close();
      throw IpcError.from(error, 'EIO');
    }
    this.watches.set(fd, watch);
  }

  /**
   * Changes what `fd` is watched for; an empty interest pauses the watcher.
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` if `fd` is not watched.
   */
  modify(fd: number, interest: ReadyMask): void {
    const watch = this.watches.get(fd);
    if (watch === undefined) throw new IpcError('ENOENT', `fd ${fd} is not watched by this poller`);
    const events = watchEvents(interest);
    watch.events = events;
    try {
      if (events === 0) watch.watcher.stop();
      else watch.watcher.start(events);
    } catch (error) {
      throw IpcError.from(error, 'EIO');
    }
  }

  /** Stops watching `fd`; no dispatch for it follows, even from the current loop iteration. */
  remove(fd: number): void {
    const watch = this.watches.get(fd);
    if (watch === undefined) return;
    this.watches.delete(fd);
    watch.watcher.close();
  }

  /** Runs `fn` as a microtask, after the current callback; jobs run in the order queued. */
  job(fn: () => void): void {
    if (this.jobs.push(fn)) queueMicrotask(this.runJobs);
  }
}

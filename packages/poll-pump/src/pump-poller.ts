// PumpPoller: a Poller the application drives by calling pump(), over epoll(7) or poll(2).
import {
  IpcError,
  JobQueue,
  readinessFrom,
  runAsMicrotask,
  TimerQueue,
  type DispatchFn,
  type Poller,
  type ReadyMask,
  type Timer,
} from '@pollux/core';
import { EpollSet } from './epoll-set.js';
import { PollSet } from './poll-set.js';
import type { Registration, WaitSet } from './wait-set.js';

const INT32_MAX = 0x7fffffff;

/** How a {@link PumpPoller} is made. */
export interface PumpPollerOptions {
  /**
   * The syscall a pump waits in. `'epoll'` (the default): an epoll set, whose wait costs per ready
   * fd, so a pump with thousands of idle connections stays as fast as one with a few; each change
   * of an fd's interest is one `epoll_ctl`. `'poll'`: one `poll(2)` over every watched fd, whose
   * wait costs per watched fd (at 4,096 idle connections about 1.8 ms of CPU per pump on the
   * machine in the README) but needs no fd of its own and watches any fd `poll(2)` takes.
   */
  readonly wait?: 'epoll' | 'poll';
}

/**
 * A {@link @pollux/core!index.Poller} the application drives: nothing happens until it calls
 * {@link PumpPoller.pump}, which runs the queued jobs, waits once for the watched fds,
 * dispatches what is ready, runs the timers that are due and the jobs queued meanwhile. It never
 * touches Node's event loop, so the host decides when, and for how long, the thread may block: a
 * frame loop calls `pump` with what is left of each frame.
 *
 * Timers are the pump's own (core's {@link @pollux/core!index.TimerQueue} on `performance.now()`,
 * which {@link PumpPoller.now} returns): they run only inside `pump`, and a pump never blocks past
 * the earliest one, so the engine's handshake and request timeouts, retry backoff and close
 * deadlines keep time even in a host that never lets Node's loop turn. `keepAlive` means nothing
 * here: the host decides how long to pump.
 *
 * It waits in an epoll set ({@link PumpPollerOptions.wait}, the default) or in one `poll(2)` over
 * every watched fd. Level-triggered either way. The flags map to {@link @pollux/core!index.Ready}
 * bits by core's {@link @pollux/core!index.readinessFrom}, the rule of every poller: `POLLIN` →
 * `Readable`, `POLLOUT` → `Writable` (each while wanted), `POLLHUP` → `HangUp`, `POLLRDHUP` →
 * `HangUp | Readable` (asked for only while `Readable` is wanted), `POLLERR` (and `POLLNVAL`) →
 * `Error`; `POLLHUP` and `POLLERR` come with every I/O bit the interest wants (the `EPOLL*` flags
 * alike). An fd with no interest stays watched with no events, so hang-up and errors still reach it.
 *
 * Remove an fd before closing it. A closed fd that is still watched is a bug of the caller: `poll(2)`
 * reports it as `Error` (`POLLNVAL`) on every pump, and once the number is reused it reports the
 * new file's readiness; epoll silently forgets it (or, if a copy of the fd lives on elsewhere,
 * goes on reporting that file under a number nobody watches).
 *
 * A steady-state pump allocates nothing in JavaScript: the arrays the kernel fills are kept and
 * grown when they fill (above 64 fds the native `poll` wrapper allocates per call). All methods
 * must be called on the thread that pumps.
 *
 * @example
 * ```ts
 * const poller = new PumpPoller();
 * const server = new IpcServer({ poller, transport: new SocketTransport() });
 * await server.listen(path);
 * function frame(): void {
 *   const deadline = performance.now() + 16.7;
 *   render();
 *   // Serve clients with what is left of the frame; a pump that had work returns early.
 *   let left: number;
 *   while ((left = deadline - performance.now()) >= 1) poller.pump(left);
 *   setTimeout(frame, 0); // let Node's own loop turn between frames
 * }
 * frame();
 * ```
 */
export class PumpPoller implements Poller {
  private readonly jobs = new JobQueue();
  private readonly timers = new TimerQueue(() => performance.now());
  private readonly byFd = new Map<number, Registration>();
  private readonly set: WaitSet;
  private pumping = false;
  private readonly runJobsOutsidePump = (): void => {
    // A pump that started before this microtask ran them already, or runs them itself.
    if (!this.pumping) this.jobs.run();
  };

  /** @throws {@link @pollux/core!index.IpcError} `EINVAL` if `options.wait` is neither `'epoll'` nor `'poll'`. */
  constructor(options: PumpPollerOptions = {}) {
    const wait = options.wait ?? 'epoll';
    if (wait !== 'epoll' && wait !== 'poll') {
      throw new IpcError('EINVAL', `wait must be 'epoll' or 'poll', not ${JSON.stringify(wait)}`);
    }
    this.set = wait === 'epoll' ? new EpollSet(this.byFd) : new PollSet();
  }

  /** Number of fds being watched. */
  get size(): number {
    return this.byFd.size;
  }

  /**
   * Starts watching `fd` for `interest` (a mask of `Ready.Readable` and `Ready.Writable`; 0 watches
   * for hang-up and errors only). Takes effect from the next wait.
   *
   * @throws {@link @pollux/core!index.IpcError} `EEXIST` if `fd` is already watched, `EBADF` if `fd`
   * is not a non-negative integer; in epoll mode also the errno of `epoll_ctl` (`EBADF` for an fd
   * that is not open, `EPERM` for a regular file, `ENOSPC`, `ENOMEM`) or of `epoll_create1`
   * (`EMFILE`, `ENFILE`).
   */
  add(fd: number, interest: ReadyMask, dispatch: DispatchFn): void {
    if (!Number.isInteger(fd) || fd < 0 || fd > INT32_MAX) throw new IpcError('EBADF', `${fd} is not an fd`);
    if (this.byFd.has(fd)) throw new IpcError('EEXIST', `fd ${fd} is already watched by this poller`);
    const registration: Registration = { fd, dispatch, interest, watched: true, setState: 0 };
    this.set.add(registration);
    this.byFd.set(fd, registration);
  }

  /**
   * Changes what `fd` is watched for; 0 watches for hang-up and errors only. Readiness already
   * fetched in the current pump is filtered by the new interest.
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` if `fd` is not watched; in epoll mode also
   * the errno of `epoll_ctl` (`ENOENT` or `EBADF` for an fd closed before it was removed, `ENOMEM`).
   */
  modify(fd: number, interest: ReadyMask): void {
    const registration = this.byFd.get(fd);
    if (registration === undefined) throw new IpcError('ENOENT', `fd ${fd} is not watched by this poller`);
    registration.interest = interest;
    this.set.modify(registration);
  }

  /**
   * Stops watching `fd`. No dispatch for it follows, not even one for readiness the current pump
   * already fetched. Does nothing if `fd` is not watched; safe from inside any callback. Does not
   * close `fd`: remove it first, then close it.
   */
  remove(fd: number): void {
    const registration = this.byFd.get(fd);
    if (registration === undefined) return;
    this.byFd.delete(fd);
    registration.watched = false;
    this.set.remove(registration);
  }

  /**
   * Queues `fn`. Called from a callback of a pump, it runs after that callback, in the same pump.
   * Called outside any pump (a promise continuation, the host's own code), it runs as a microtask
   * once the current task's code and earlier microtasks are done, or at the start of the next
   * {@link PumpPoller.pump} if one is called first, which then does not block. Jobs run in order; a
   * job queued by a job runs later in the same pump or in the next one, never inside the job.
   */
  job(fn: () => void): void {
    // A reply settles a promise inside a pump, and its continuation (which sends the next request
    // through a job) runs only after the pump has returned: waiting for the next pump would cost
    // every round trip a turn of the host's loop and one more wait.
    if (this.jobs.push(fn) && !this.pumping) runAsMicrotask(this.runJobsOutsidePump);
  }

  /**
   * Schedules `fn` to run inside a pump, `ms` milliseconds from now or later: a pump never blocks
   * past the earliest timer, and runs the due ones after its dispatches. A timer made by a running
   * timer waits for the next pump, which then does not block. `keepAlive` means nothing here: the
   * host decides when to pump.
   *
   * @param ms - the delay; below 0 counts as 0, above {@link @pollux/core!index.MAX_TIMER_DELAY} as that
   * @throws RangeError if `ms` is NaN
   */
  timer(ms: number, fn: () => void, _keepAlive?: boolean): Timer {
    return this.timers.add(ms, fn);
  }

  /** `performance.now()`, the clock timers count in. */
  now(): number {
    return performance.now();
  }

  /**
   * One turn of the loop: runs the queued jobs, waits once for the watched fds, calls the
   * dispatch callback of each ready fd, runs the timers that are due, then the jobs all those
   * callbacks queued.
   *
   * Blocks at most `timeoutMs` (rounded down; 0 only looks), never past the earliest timer, and
   * not at all if a job was queued or a timer was due when it was called: a pump that had work to
   * do returns promptly, so a host that wants to serve clients until a deadline calls it in a loop.
   * A negative `timeoutMs` waits until an fd is ready or a timer is due, forever if neither ever
   * happens. With no fds it simply sleeps until the timeout or the earliest timer.
   *
   * If a dispatch callback throws, the error propagates out of `pump`; the fds not yet dispatched
   * are reported again by the next pump (level-triggered) and the queued jobs run then. A job that
   * throws does not stop the others (see {@link @pollux/core!index.JobQueue}).
   *
   * @param timeoutMs - the longest the call may block, in milliseconds
   * @returns how many fds were dispatched
   * @throws {@link @pollux/core!index.IpcError} `EBUSY` when called from inside a pump (a callback
   * or a job), or the errno of a failing wait (`ENOMEM`).
   * @throws RangeError if `timeoutMs` is NaN
   */
  pump(timeoutMs: number): number {
    if (Number.isNaN(timeoutMs)) throw new RangeError('timeoutMs must be a number of milliseconds');
    if (this.pumping) throw new IpcError('EBUSY', 'pump() called from inside a pump: return to the loop instead');
    this.pumping = true;
    const set = this.set;
    let dispatched = 0;
    let found = 0;
    try {
      const hadJobs = this.jobs.size > 0;
      this.jobs.run();
      let wait: number;
      // With work done or still waiting (a job queued by a job), only look: the host gets control
      // back at once and the next pump runs what is left.
      if (hadJobs || this.jobs.size > 0) wait = 0;
      else if (timeoutMs < 0 || timeoutMs >= INT32_MAX) wait = -1;
      else wait = Math.floor(timeoutMs);
      const untilTimer = this.timers.timeout();
      if (untilTimer >= 0 && (wait < 0 || untilTimer < wait)) wait = untilTimer;
      found = set.wait(wait);
      for (let i = 0; i < found; i++) {
        const registration = set.found[i];
        // Removed (and maybe re-added as a new registration) by an earlier callback of this pump,
        // or, in epoll mode, an fd closed without being removed whose file lives on elsewhere.
        if (registration === undefined || !registration.watched) continue;
        const bits = readinessFrom(set.foundEvents[i]!, registration.interest, set.bits);
        if (bits === 0) continue;
        dispatched++;
        registration.dispatch(registration.fd, bits);
      }
      this.timers.run();
      this.jobs.run();
    } finally {
      for (let i = 0; i < found; i++) set.found[i] = undefined;
      this.pumping = false;
    }
    return dispatched;
  }

  /**
   * Removes every fd (without closing any). Idempotent; the poller stays usable, and queued jobs
   * still run on the next pump.
   */
  close(): void {
    for (const fd of [...this.byFd.keys()]) this.remove(fd);
  }
}

// PumpPoller: a Poller the application drives by calling pump(), over poll(2).
import {
  interestEvents,
  IpcError,
  JobQueue,
  readinessFrom,
  TimerQueue,
  type DispatchFn,
  type Poller,
  type ReadinessBits,
  type ReadyMask,
  type Timer,
} from '@pollux/core';
import { poll, POLLERR, POLLHUP, POLLIN, POLLNVAL, POLLOUT, POLLRDHUP } from '@pollux/sys';

/**
 * One `add`: a remove followed by an add of the same fd number makes a new registration, so
 * readiness fetched for the old one can be recognised as stale and dropped.
 */
interface Registration {
  readonly fd: number;
  readonly dispatch: DispatchFn;
  interest: ReadyMask;
  /** Slot in the parallel poll arrays; -1 once removed. */
  index: number;
}

const INITIAL_CAPACITY = 16;
const INT32_MAX = 0x7fffffff;

/** `poll(2)`'s bits; `POLLNVAL` (a closed fd still watched) counts as an error. */
const POLL_BITS: ReadinessBits = {
  readable: POLLIN,
  hangUp: POLLRDHUP,
  writable: POLLOUT,
  hangUpBoth: POLLHUP,
  error: POLLERR | POLLNVAL,
};

function grown(array: Int32Array, capacity: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(capacity);
  next.set(array);
  return next;
}

/**
 * A {@link @pollux/core!index.Poller} the application drives: nothing happens until it calls
 * {@link PumpPoller.pump}, which runs the queued jobs, makes one `poll(2)` over the watched fds,
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
 * Level-triggered. `poll(2)` flags map to {@link @pollux/core!index.Ready} bits by core's
 * {@link @pollux/core!index.readinessFrom}, the rule of every poller: `POLLIN` → `Readable`,
 * `POLLOUT` → `Writable` (each while wanted), `POLLHUP` → `HangUp`, `POLLRDHUP` → `HangUp |
 * Readable` (asked for only while `Readable` is wanted), `POLLERR` and `POLLNVAL` → `Error`;
 * `POLLHUP`, `POLLERR` and `POLLNVAL` come with every I/O bit the interest wants. An fd with no
 * interest stays in the poll set with no events, so `POLLHUP` and `POLLERR` still reach it.
 *
 * Remove an fd before closing it. A closed fd that is still watched is a bug of the caller: it is
 * reported as `Error` (`POLLNVAL`) on every pump, and once the number is reused it reports the
 * new file's readiness.
 *
 * A steady-state pump allocates nothing in JavaScript: the poll arrays are kept, doubled when they
 * fill and compacted by swap-remove (above 64 fds the native `poll` wrapper allocates per call). All methods must be called on the thread that pumps.
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
  /** Registrations in slot order, parallel to `fds` and `events`. */
  private readonly slots: (Registration | undefined)[] = [];
  private fds = new Int32Array(INITIAL_CAPACITY);
  private events = new Int32Array(INITIAL_CAPACITY);
  private revents = new Int32Array(INITIAL_CAPACITY);
  private count = 0;
  /** What one poll found, copied out before any callback can move the slots around. */
  private readonly batch: (Registration | undefined)[] = [];
  private batchRevents = new Int32Array(INITIAL_CAPACITY);
  private pumping = false;

  /** Number of fds being watched. */
  get size(): number {
    return this.count;
  }

  /**
   * Starts watching `fd` for `interest` (a mask of `Ready.Readable` and `Ready.Writable`; 0 watches
   * for hang-up and errors only). Takes effect from the next poll.
   *
   * @throws {@link @pollux/core!index.IpcError} `EEXIST` if `fd` is already watched, `EBADF` if `fd`
   * is not a non-negative integer.
   */
  add(fd: number, interest: ReadyMask, dispatch: DispatchFn): void {
    if (!Number.isInteger(fd) || fd < 0 || fd > INT32_MAX) throw new IpcError('EBADF', `${fd} is not an fd`);
    if (this.byFd.has(fd)) throw new IpcError('EEXIST', `fd ${fd} is already watched by this poller`);
    if (this.count === this.fds.length) {
      const capacity = this.fds.length * 2;
      this.fds = grown(this.fds, capacity);
      this.events = grown(this.events, capacity);
      this.revents = new Int32Array(capacity);
    }
    const registration: Registration = { fd, dispatch, interest, index: this.count++ };
    this.slots[registration.index] = registration;
    this.byFd.set(fd, registration);
    this.arm(registration);
  }

  /**
   * Changes what `fd` is watched for; 0 watches for hang-up and errors only. Readiness already
   * fetched in the current pump is filtered by the new interest.
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` if `fd` is not watched.
   */
  modify(fd: number, interest: ReadyMask): void {
    const registration = this.byFd.get(fd);
    if (registration === undefined) throw new IpcError('ENOENT', `fd ${fd} is not watched by this poller`);
    registration.interest = interest;
    this.arm(registration);
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
    const index = registration.index;
    const last = --this.count;
    registration.index = -1;
    if (index !== last) {
      const moved = this.slots[last]!;
      moved.index = index;
      this.slots[index] = moved;
      this.fds[index] = this.fds[last]!;
      this.events[index] = this.events[last]!;
    }
    this.slots[last] = undefined;
  }

  /**
   * Queues `fn` to run inside a pump: after the current callback when called from one, else at the
   * start of the next {@link PumpPoller.pump}, which then does not block. Jobs run in order; a job
   * queued by a job runs later in the same pump or in the next one, never inside the job.
   */
  job(fn: () => void): void {
    this.jobs.push(fn);
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
   * One turn of the loop: runs the queued jobs, makes one `poll(2)` over the watched fds, calls the
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
   * or a job), or the errno of a failing `poll(2)` (`ENOMEM`).
   * @throws RangeError if `timeoutMs` is NaN
   */
  pump(timeoutMs: number): number {
    if (Number.isNaN(timeoutMs)) throw new RangeError('timeoutMs must be a number of milliseconds');
    if (this.pumping) throw new IpcError('EBUSY', 'pump() called from inside a pump: return to the loop instead');
    this.pumping = true;
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
      const n = this.count;
      const ready = poll(this.fds, this.events, this.revents, n, wait);
      if (ready < 0) throw IpcError.fromErrno(ready, 'poll(2)');
      if (ready > 0) {
        if (this.batchRevents.length < n) this.batchRevents = new Int32Array(this.fds.length);
        for (let i = 0; i < n && found < ready; i++) {
          const revents = this.revents[i]!;
          if (revents === 0) continue;
          this.batch[found] = this.slots[i];
          this.batchRevents[found++] = revents;
        }
      }
      for (let i = 0; i < found; i++) {
        const registration = this.batch[i]!;
        // Removed (and maybe re-added as a new registration) by an earlier callback of this pump.
        if (registration.index < 0) continue;
        const bits = readinessFrom(this.batchRevents[i]!, registration.interest, POLL_BITS);
        if (bits === 0) continue;
        dispatched++;
        registration.dispatch(registration.fd, bits);
      }
      this.timers.run();
      this.jobs.run();
    } finally {
      for (let i = 0; i < found; i++) this.batch[i] = undefined;
      this.pumping = false;
    }
    return dispatched;
  }

  /**
   * Removes every fd (without closing any). Idempotent; the poller stays usable, and queued jobs
   * still run on the next pump.
   */
  close(): void {
    while (this.count > 0) this.remove(this.slots[this.count - 1]!.fd);
  }

  /** Writes a registration's interest into its poll slot. */
  private arm(registration: Registration): void {
    this.fds[registration.index] = registration.fd;
    this.events[registration.index] = interestEvents(registration.interest, POLL_BITS);
  }
}

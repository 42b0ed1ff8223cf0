// ManualPoller: a Poller a test turns by hand, on a clock it moves by hand (testing).
import { errnoCode, IpcError } from '../errors.js';
import { JobQueue } from '../contracts/job-queue.js';
import { Ready, type DispatchFn, type Poller, type ReadyMask, type Timer } from '../contracts/poller.js';
import { TimerQueue } from '../contracts/timer-queue.js';

/**
 * Where a {@link ManualPoller} learns readiness: {@link MemoryNetwork} is one. Readiness is
 * level-triggered; `HangUp` means the peer is gone both ways, or, while `interest` has
 * `Readable`, also that it shut its writing side (the {@link Poller} contract's rule).
 */
export interface ReadinessSource {
  /** What `fd` is ready for now, given what it is watched for; undefined when `fd` is not open. */
  readiness(fd: number, interest: ReadyMask): ReadyMask | undefined;
  /**
   * A number that changes whenever something that readiness depends on changes (bytes moved, an
   * fd opened or closed): a turn that leaves it and the poller's own state alone did nothing.
   */
  readonly version: number;
}

/** Options of {@link ManualPoller}. */
export interface ManualPollerOptions {
  /**
   * Turns {@link ManualPoller.run} (and rounds {@link ManualPoller.settle}) may take before it
   * decides the engine loops forever and throws `ELOOP`. Default 10000.
   */
  readonly maxTurns?: number;
}

/** One `add`: a re-added fd is a new registration, so readiness meant for the old one never reaches it. */
interface Registration {
  readonly fd: number;
  interest: ReadyMask;
  readonly dispatch: DispatchFn;
}

/** Lets every pending microtask run, and the `setImmediate` callbacks queued so far; no time passes. */
function nextImmediate(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * A {@link Poller} for unit tests of the engine: nothing happens until the test says so, and time
 * stands still until it moves the clock, so a test runs in microseconds, with no sleeps and the
 * same outcome every time.
 *
 * - {@link ManualPoller.turn}: one turn, as a real loop makes: each watched fd whose readiness
 *   (from its {@link ReadinessSource}) meets its interest, or that has `HangUp` or `Error`
 *   whatever the interest, is dispatched once; then the timers due now run; then the jobs queued
 *   so far.
 * - {@link ManualPoller.run}: turns until a turn does nothing.
 * - {@link ManualPoller.settle}: runs, then lets promise continuations (and `setImmediate`) run,
 *   and again, until all is still: what a test awaits after each step.
 * - {@link ManualPoller.advance}: moves the clock, running each timer that comes due in order and
 *   settling after each.
 *
 * It keeps the contract's promises: no dispatch after `remove` (even later in the same turn), a
 * re-added fd gets only its new registration's events, jobs run after the callback that queued
 * them, timers never run inside `timer()`. It also checks the engine keeps its side: an fd closed
 * while still watched fails the turn with `EBADF`.
 *
 * @example
 * ```ts
 * const network = new MemoryNetwork();
 * const poller = new ManualPoller(network);
 * const transport = new MemoryTransport(network);
 * // … a server and a client on `poller` and `transport` …
 * const reply = client.request(1, Buffer.from('ping'));
 * await poller.settle();
 * expect((await reply).toString()).toBe('ping');
 * ```
 */
export class ManualPoller implements Poller {
  private readonly source: ReadinessSource;
  private readonly maxTurns: number;
  private readonly watched = new Map<number, Registration>();
  private readonly jobs = new JobQueue();
  private clock = 0;
  private readonly timers = new TimerQueue(() => this.clock);
  /** Counts registrations, jobs and timers made: with the source's version, it tells a busy turn from an idle one. */
  private changes = 0;
  private turning = false;

  /**
   * @param source - where readiness comes from, e.g. a {@link MemoryNetwork}
   * @param options - the loop guard
   */
  constructor(source: ReadinessSource, options: ManualPollerOptions = {}) {
    this.source = source;
    this.maxTurns = options.maxTurns ?? 10_000;
  }

  /**
   * Starts watching `fd`.
   *
   * @throws {@link @pollux/core!index.IpcError} `EEXIST` if `fd` is watched already; `EBADF` if its source does not
   * know it (it is not open).
   */
  add(fd: number, interest: ReadyMask, dispatch: DispatchFn): void {
    if (this.watched.has(fd)) throw new IpcError('EEXIST', `fd ${fd} is already watched by this poller`);
    if (this.source.readiness(fd, interest) === undefined)
      throw new IpcError('EBADF', `cannot watch fd ${fd}: it is not open`);
    this.watched.set(fd, { fd, interest, dispatch });
    this.changes++;
  }

  /**
   * Changes what `fd` is watched for.
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` if `fd` is not watched.
   */
  modify(fd: number, interest: ReadyMask): void {
    const registration = this.watched.get(fd);
    if (registration === undefined) throw new IpcError('ENOENT', `cannot modify fd ${fd}: it is not watched`);
    if (registration.interest === interest) return;
    registration.interest = interest;
    this.changes++;
  }

  /** Stops watching `fd`: it is never dispatched again, even later in the current turn. */
  remove(fd: number): void {
    if (this.watched.delete(fd)) this.changes++;
  }

  /** Queues `fn` for the end of the current turn (or the next one). */
  job(fn: () => void): void {
    this.jobs.push(fn);
    this.changes++;
  }

  /** Schedules `fn` `ms` from now on the manual clock; it runs from a turn once the clock got there. */
  timer(ms: number, fn: () => void, _keepAlive?: boolean): Timer {
    this.changes++;
    return this.timers.add(ms, fn);
  }

  /** The manual clock, in ms: 0 at first, moved only by {@link ManualPoller.advance}. */
  now(): number {
    return this.clock;
  }

  /** The fds watched now, in the order they were added. */
  get watchedFds(): number[] {
    return [...this.watched.keys()];
  }

  /** Timers waiting to run. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Jobs waiting to run. */
  get pendingJobs(): number {
    return this.jobs.size;
  }

  /**
   * One turn: dispatches each ready fd once, then runs the timers due now, then the jobs queued so
   * far. An exception from a callback propagates to the caller.
   *
   * @returns whether the turn did anything: dispatched a callback that moved bytes or changed a
   * registration, ran a timer or a job.
   * @throws {@link @pollux/core!index.IpcError} `EBUSY` when called from inside one of the poller's own callbacks;
   * `EBADF` when a watched fd was closed before it was removed (the engine broke the
   * `Channel.close` rule).
   */
  turn(): boolean {
    if (this.turning) throw new IpcError('EBUSY', 'ManualPoller turned from inside one of its own callbacks');
    const version = this.source.version;
    const changes = this.changes;
    this.turning = true;
    let ran = 0;
    try {
      for (const registration of [...this.watched.values()]) {
        const { fd } = registration;
        if (this.watched.get(fd) !== registration) continue;
        const ready = this.source.readiness(fd, registration.interest);
        if (ready === undefined) {
          throw new IpcError(
            'EBADF',
            `fd ${fd} was closed while the poller still watched it: remove it from the poller before closing it`,
          );
        }
        const reported = ready & (registration.interest | Ready.HangUp | Ready.Error);
        if (reported !== 0) registration.dispatch(fd, reported);
      }
      ran += this.timers.run();
      ran += this.jobs.size;
      this.jobs.run();
    } finally {
      this.turning = false;
    }
    return ran > 0 || this.source.version !== version || this.changes !== changes;
  }

  /**
   * Turns until a turn does nothing: every fd that stays ready is one whose callback has nothing
   * to do with it now.
   *
   * @returns how many turns did something
   * @throws {@link @pollux/core!index.IpcError} `ELOOP` when still busy after `maxTurns` turns: something makes work
   * for itself forever. Also what {@link ManualPoller.turn} throws.
   */
  run(): number {
    for (let turns = 0; turns < this.maxTurns; turns++) if (!this.turn()) return turns;
    throw new IpcError(
      'ELOOP',
      `ManualPoller still busy after ${this.maxTurns} turns: a job or a 0 ms timer that queues itself again, or a callback that acts on every turn, keeps the loop from going idle`,
    );
  }

  /**
   * Runs the poller until idle, lets pending promise continuations and `setImmediate` callbacks
   * run (a client's `await` on a response, say), and repeats until neither changes anything. No
   * time passes: timers that are not due stay pending.
   *
   * @throws {@link @pollux/core!index.IpcError} `ELOOP` when it never comes to rest within `maxTurns` rounds; what
   * {@link ManualPoller.run} throws.
   */
  async settle(): Promise<void> {
    await this.runUntilStill(() => false);
  }

  /**
   * Settles until `promise` settles, then resolves with its outcome, for a test that awaits what
   * the engine does: `const client = await poller.settled(IpcClient.connect(…))`. It returns as
   * soon as the promise settles, before anything the engine deferred to a later turn of Node's
   * loop, so the test's next line runs where an application's would (attaching listeners before
   * a new client hands on the events that came with its welcome, say).
   *
   * @throws {@link @pollux/core!index.IpcError} (as a rejection) `EDEADLK` when `promise` is still pending once all is
   * still: it waits for time to pass ({@link ManualPoller.advance}) or for something the test has
   * not done. Otherwise `promise`'s own rejection, or what {@link ManualPoller.settle} throws.
   */
  async settled<T>(promise: PromiseLike<T>): Promise<T> {
    let pending = true;
    const outcome = Promise.resolve(promise).finally(() => {
      pending = false;
    });
    // Observed now: a rejection that arrives while settling is not reported as unhandled.
    outcome.catch(() => undefined);
    if (!(await this.runUntilStill(() => !pending))) {
      throw new IpcError(
        errnoCode('EDEADLK'),
        'the promise is still pending with the poller at rest: it waits for time to pass (advance the clock) or for something the test has not done',
      );
    }
    return outcome;
  }

  /**
   * Moves the clock `ms` forward: each timer that comes due runs in deadline order (ties in the
   * order made), the clock standing at its deadline, and the poller settles after each, so what a
   * timer sets off (a retry, a reply) happens before the next timer.
   *
   * @throws {@link @pollux/core!index.IpcError} `EINVAL` for a negative or non-finite `ms`; what
   * {@link ManualPoller.settle} throws.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0) || !Number.isFinite(ms))
      throw new IpcError('EINVAL', `advance takes a finite, non-negative number of ms, got ${String(ms)}`);
    const target = this.clock + ms;
    await this.settle();
    for (;;) {
      const wait = this.timers.timeout();
      if (wait < 0 || this.clock + wait > target) break;
      this.clock += wait;
      await this.settle();
    }
    this.clock = target;
    await this.settle();
  }

  /**
   * Runs, then lets Node's loop turn, until `done()` holds (true) or nothing changes any more
   * (false). Still means one turn of Node's loop and then another changed nothing: an immediate
   * queued while the first ran (the client hands on held frames this way) runs before the second.
   */
  private async runUntilStill(done: () => boolean): Promise<boolean> {
    for (let round = 0; round < this.maxTurns; round++) {
      this.run();
      const version = this.source.version;
      const changes = this.changes;
      const still = (): boolean => this.source.version === version && this.changes === changes;
      await nextImmediate();
      if (done()) return true;
      if (!still()) continue;
      await nextImmediate();
      if (done()) return true;
      if (still()) return false;
    }
    throw new IpcError(
      'ELOOP',
      `ManualPoller did not come to rest within ${this.maxTurns} rounds: promise continuations keep making work`,
    );
  }
}

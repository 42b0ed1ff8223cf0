// WaitSet: the fds a pump waits on and the syscall it waits with (poll(2) or epoll(7)).
import type { DispatchFn, ReadinessBits, ReadyMask } from '@pollux/core';

/**
 * One `add`: a remove followed by an add of the same fd number makes a new registration, so
 * readiness fetched for the old one can be recognised as stale and dropped.
 */
export interface Registration {
  readonly fd: number;
  readonly dispatch: DispatchFn;
  interest: ReadyMask;
  /** False once removed: readiness fetched for it before is never dispatched. */
  watched: boolean;
  /** The wait set's own bookkeeping: the poll slot, or the events registered with epoll. */
  setState: number;
}

/**
 * The fds a {@link PumpPoller} waits on, and how it waits. Level-triggered. After
 * {@link WaitSet.wait} the ready registrations and their events are in `found` and `foundEvents`
 * (the first `n` entries), copied out before any callback can change the set.
 */
export interface WaitSet {
  /** The backend's event bits, for core's `interestEvents` and `readinessFrom`. */
  readonly bits: ReadinessBits;
  readonly found: (Registration | undefined)[];
  readonly foundEvents: Int32Array;
  /** Starts watching; throws an IpcError with the backend's errno. */
  add(registration: Registration): void;
  /** Applies a changed `interest`; throws an IpcError with the backend's errno. */
  modify(registration: Registration): void;
  /** Stops watching; never throws. */
  remove(registration: Registration): void;
  /**
   * Waits up to `timeoutMs` (-1: forever) for a watched fd to be ready.
   *
   * @returns how many entries of `found` are filled
   * @throws {@link @pollux/core!index.IpcError} the errno of the failed wait
   */
  wait(timeoutMs: number): number;
}

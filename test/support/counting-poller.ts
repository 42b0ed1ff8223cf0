import type { DispatchFn, Poller, ReadyMask, Timer } from '@pollux/core';

/** A poller that passes everything on to another and counts what the engine asked of it and was told. */
export class CountingPoller implements Poller {
  /** Interest changes asked for. */
  modifies = 0;
  /** Fds watched, in the order they were added. */
  readonly added: number[] = [];
  /** Fds whose readiness was reported to the engine at least once. */
  readonly reported = new Set<number>();

  constructor(private readonly inner: Poller) {}

  add(fd: number, interest: ReadyMask, dispatch: DispatchFn): void {
    this.added.push(fd);
    this.inner.add(fd, interest, (readyFd, ready) => {
      this.reported.add(readyFd);
      dispatch(readyFd, ready);
    });
  }
  modify(fd: number, interest: ReadyMask): void {
    this.modifies++;
    this.inner.modify(fd, interest);
  }
  remove(fd: number): void {
    this.inner.remove(fd);
  }
  job(fn: () => void): void {
    this.inner.job(fn);
  }
  timer(ms: number, fn: () => void, keepAlive?: boolean): Timer {
    return this.inner.timer(ms, fn, keepAlive);
  }
  now(): number {
    return this.inner.now();
  }
}

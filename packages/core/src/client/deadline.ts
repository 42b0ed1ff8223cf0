// Deadline: a timeout and an abort signal watched together for one wait (client layer).
import type { Poller, Timer } from '../contracts/poller.js';

/**
 * Watches a timeout and an `AbortSignal` for one thing the caller waits on: whichever comes first
 * calls its callback, once, and stops the other. Cancel it when the wait ends another way.
 */
export class Deadline {
  private timer: Timer | undefined;
  private signal: AbortSignal | undefined;
  private readonly onAbort: (() => void) | undefined;

  /**
   * @param ms - the timeout, or undefined for none
   * @param keepAlive - whether the pending timeout holds the process open (someone awaits it)
   */
  constructor(
    poller: Poller,
    ms: number | undefined,
    signal: AbortSignal | undefined,
    expired: () => void,
    aborted: () => void,
    keepAlive = true,
  ) {
    if (ms !== undefined) {
      this.timer = poller.timer(
        ms,
        () => {
          this.timer = undefined;
          this.cancel();
          expired();
        },
        keepAlive,
      );
    }
    if (signal !== undefined) {
      this.signal = signal;
      this.onAbort = () => {
        this.cancel();
        aborted();
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Stops watching both. Idempotent. */
  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.signal !== undefined) {
      this.signal.removeEventListener('abort', this.onAbort!);
      this.signal = undefined;
    }
  }
}

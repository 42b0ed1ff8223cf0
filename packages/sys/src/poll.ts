// poll(2) over parallel fd arrays, and its event bits.
import { native } from './native.js';

/**
 * `poll(2)` over the first `count` entries of three parallel arrays; blocks the thread.
 *
 * A signal does not end the wait early: `EINTR` is retried with what is left
 * of the timeout, so the result is never `-EINTR`.
 *
 * @param fds - the fds to watch (a negative fd is ignored, as poll(2) does)
 * @param events - per fd, the `POLL*` flags of interest
 * @param revents - receives, per fd, the `POLL*` flags that are ready
 * @param count - how many leading entries to use; at most the shortest array's length
 * @param timeoutMs - milliseconds to wait; 0 returns at once, negative waits forever
 * @returns how many fds are ready (0 on timeout), or `-errno` (`-ENOMEM`, `-EINVAL`)
 * @throws TypeError if an array is not an Int32Array
 * @throws RangeError if `count` is out of range
 */
export function poll(
  fds: Int32Array,
  events: Int32Array,
  revents: Int32Array,
  count: number,
  timeoutMs: number,
): number {
  return native.poll(fds, events, revents, count, timeoutMs);
}

/** `POLLIN`: there is data to read (or a connection to accept). */
export const POLLIN: number = native.POLLIN;
/** `POLLOUT`: writing will not block. */
export const POLLOUT: number = native.POLLOUT;
/** `POLLERR`: an error is pending (read it with `socketError`); always reported. */
export const POLLERR: number = native.POLLERR;
/** `POLLHUP`: hung up, both directions are closed; always reported. */
export const POLLHUP: number = native.POLLHUP;
/** `POLLNVAL`: the fd is not open; always reported. */
export const POLLNVAL: number = native.POLLNVAL;
/** `POLLRDHUP`: the peer shut down its writing side (sent EOF). */
export const POLLRDHUP: number = native.POLLRDHUP;

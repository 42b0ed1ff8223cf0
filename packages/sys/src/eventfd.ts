// eventfd(2): a counter as an fd, to wake a poller; failures as -errno.
import { native } from './native.js';

/**
 * Creates an eventfd: `eventfd(initial, EFD_NONBLOCK | EFD_CLOEXEC)`. It is readable while its
 * counter is above 0, so a level-triggered poller keeps reporting it until {@link eventfdRead}
 * drains it.
 *
 * @param initial - the counter's first value, 0–2^32−1; above 0 makes it readable at once
 * @returns the new fd, or `-errno`: `-EMFILE`, `-ENFILE`, `-ENOMEM`
 * @throws RangeError if `initial` is not an integer in 0–2^32−1
 */
export function eventfdCreate(initial = 0): number {
  return native.eventfdCreate(initial);
}

/**
 * Adds `value` to an eventfd's counter: `write(2)` of 8 bytes, retrying `EINTR`.
 *
 * @param fd - an eventfd
 * @param value - what to add, 1–2^53
 * @returns 0, or `-errno`: `-EAGAIN` (the counter would pass 2^64−2, non-blocking fd), `-EINVAL`
 *   (not an eventfd, e.g. a socket or pipe taking fewer than 8 bytes), `-EBADF`
 * @throws RangeError if `fd` is not a non-negative integer or `value` not an integer in 1–2^53
 */
export function eventfdWrite(fd: number, value = 1): number {
  return native.eventfdWrite(fd, value);
}

/**
 * Takes an eventfd's counter and resets it to 0: `read(2)` of 8 bytes, retrying `EINTR`.
 *
 * @param fd - an eventfd
 * @returns the counter before the read (above 0; counts past 2^53 lose precision), or `-errno`:
 *   `-EAGAIN` (the counter is 0, non-blocking fd), `-EINVAL` (not an eventfd), `-EBADF`
 * @throws RangeError if `fd` is not a non-negative integer
 */
export function eventfdRead(fd: number): number {
  return native.eventfdRead(fd);
}

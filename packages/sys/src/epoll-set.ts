// epoll(7) as a set of fds, and its event bits: readiness at a cost per ready fd, not per watched fd.
import { native } from './native.js';

/** `EPOLLIN`: there is data to read (or a connection to accept). */
export const EPOLLIN: number = native.EPOLLIN;
/** `EPOLLOUT`: writing will not block. */
export const EPOLLOUT: number = native.EPOLLOUT;
/** `EPOLLERR`: an error is pending (read it with `socketError`); always reported. */
export const EPOLLERR: number = native.EPOLLERR;
/** `EPOLLHUP`: hung up, both directions are closed; always reported. */
export const EPOLLHUP: number = native.EPOLLHUP;
/** `EPOLLRDHUP`: the peer shut down its writing side (sent EOF). */
export const EPOLLRDHUP: number = native.EPOLLRDHUP;

/**
 * Creates an epoll set: `epoll_create1(EPOLL_CLOEXEC)`.
 *
 * Close it with `close` when done; closing it does not close the fds it watches.
 *
 * @returns the epoll fd (close-on-exec), or `-errno`: `-EMFILE`, `-ENFILE`, `-ENOMEM`
 */
export function epollCreate(): number {
  return native.epollCreate();
}

/**
 * Adds `fd` to an epoll set: `epoll_ctl(EPOLL_CTL_ADD)`, level-triggered.
 *
 * @param epfd - epoll fd from {@link epollCreate}
 * @param fd - fd to watch; {@link epollWait} reports it by this number
 * @param events - mask of `EPOLL*` flags of interest ({@link EPOLLERR} and {@link EPOLLHUP} are
 *   always reported); 0 keeps the fd in the set without reporting anything else
 * @returns 0, or `-errno`: `-EEXIST` (already in the set), `-EBADF`, `-EPERM` (a regular file or
 *   directory, which epoll cannot watch), `-EINVAL` (`epfd` is not an epoll fd, or `fd` is `epfd`),
 *   `-ENOSPC` (`/proc/sys/fs/epoll/max_user_watches` reached), `-ENOMEM`, `-ELOOP`
 * @throws RangeError if an fd is not a non-negative integer or `events` not a 32-bit mask
 */
export function epollAdd(epfd: number, fd: number, events: number): number {
  return native.epollCtl(epfd, native.EPOLL_CTL_ADD, fd, events);
}

/**
 * Changes the events watched for `fd`: `epoll_ctl(EPOLL_CTL_MOD)`.
 *
 * @param epfd - epoll fd from {@link epollCreate}
 * @param fd - fd already in the set
 * @param events - the new mask of `EPOLL*` flags
 * @returns 0, or `-errno`: `-ENOENT` (not in the set), `-EBADF`, `-EINVAL`, `-ENOMEM`
 * @throws RangeError if an fd is not a non-negative integer or `events` not a 32-bit mask
 */
export function epollModify(epfd: number, fd: number, events: number): number {
  return native.epollCtl(epfd, native.EPOLL_CTL_MOD, fd, events);
}

/**
 * Removes `fd` from an epoll set: `epoll_ctl(EPOLL_CTL_DEL)`.
 *
 * Remove an fd before closing it whenever it may have been duplicated: epoll watches the open
 * file, which a `dup`ed or inherited copy keeps alive, and reports it under the closed number.
 *
 * @param epfd - epoll fd from {@link epollCreate}
 * @param fd - fd in the set
 * @returns 0, or `-errno`: `-ENOENT` (not in the set), `-EBADF`, `-EINVAL`
 * @throws RangeError if an fd is not a non-negative integer
 */
export function epollRemove(epfd: number, fd: number): number {
  return native.epollCtl(epfd, native.EPOLL_CTL_DEL, fd, 0);
}

/**
 * Waits for fds of the set to be ready: `epoll_wait(2)`; blocks the thread.
 *
 * Fills `fds[i]` and `events[i]` for each ready fd, at most as many as the shorter array holds;
 * more ready fds are reported by the next call. A signal does not end the wait early: `EINTR` is
 * retried with what is left of the timeout, so the result is never `-EINTR`.
 *
 * @param epfd - epoll fd from {@link epollCreate}
 * @param fds - receives the ready fds
 * @param events - receives, per ready fd, the `EPOLL*` flags that are ready
 * @param timeoutMs - milliseconds to wait; 0 returns at once, negative waits forever
 * @returns how many fds are ready (0 on timeout), or `-errno`: `-EBADF`, `-EINVAL` (not an epoll fd)
 * @throws TypeError if `fds` or `events` is not an Int32Array
 * @throws RangeError if either array is empty or `timeoutMs` is not a 32-bit integer
 */
export function epollWait(epfd: number, fds: Int32Array, events: Int32Array, timeoutMs: number): number {
  return native.epollWait(epfd, fds, events, timeoutMs);
}

// read, writev, sendmsg and recvmsg on non-blocking fds, failures as -errno.
import { native } from './native.js';

/**
 * Reads into `buffer[offset, offset + length)` with `read(2)`, in place, retrying `EINTR`.
 *
 * Works on any fd (sockets, pipes, eventfd). Never throws for a syscall failure.
 *
 * @param fd - fd to read from
 * @param buffer - destination; its `byteOffset` is respected
 * @param offset - first byte of `buffer` to fill
 * @param length - at most this many bytes (0 reads nothing and returns 0)
 * @returns bytes read, 0 at end of stream, or `-errno`: `-EAGAIN` (nothing to read),
 *   `-ECONNRESET`, `-EBADF`
 * @throws TypeError if `buffer` is not a Uint8Array
 * @throws RangeError if the window lies outside `buffer`
 */
export function read(fd: number, buffer: Uint8Array, offset: number, length: number): number {
  return native.read(fd, buffer, offset, length);
}

/**
 * Gathers `chunks[0 .. count)` into one `sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT)`.
 *
 * At most 1024 chunks (`IOV_MAX`) go out per call and a partial write is
 * normal: loop on the byte count. Empty chunks are fine. An fd that is not a
 * socket (pipe, eventfd) is written with `writev(2)` instead. A closed peer
 * gives `-EPIPE`, never SIGPIPE. Never throws for a syscall failure.
 *
 * @param fd - fd to write to
 * @param chunks - byte vectors, used in place
 * @param count - how many leading entries of `chunks` to send
 * @returns bytes written, or `-errno`: `-EAGAIN` (buffer full), `-EPIPE`, `-ECONNRESET`, `-EBADF`
 * @throws TypeError if `chunks` is not an array of Uint8Array
 * @throws RangeError if `count` exceeds `chunks.length`
 */
export function writev(fd: number, chunks: readonly Uint8Array[], count: number): number {
  return native.writev(fd, chunks, count);
}

/**
 * {@link writev} plus fd passing: when `fds` is non-empty they travel as one
 * `SCM_RIGHTS` message with the first byte sent.
 *
 * The receiver gets its own copies; the caller still owns (and should close)
 * `fds`. Passing fds needs at least one data byte (a stream socket sends
 * nothing for zero bytes), otherwise `-EINVAL`. Never throws for a syscall failure.
 *
 * @param fd - Unix socket to send on
 * @param chunks - byte vectors, used in place
 * @param count - how many leading entries of `chunks` to send
 * @param fds - fds to pass, at most 253 (`SCM_MAX_FD`)
 * @returns bytes written, or `-errno`: `-EAGAIN`, `-EPIPE`, `-EBADF` (an fd in `fds` is not open),
 *   `-EINVAL`, `-ETOOMANYREFS`
 * @throws TypeError if an argument has the wrong type
 * @throws RangeError if `count` exceeds `chunks.length` or there are more than 253 fds
 */
export function sendmsg(fd: number, chunks: readonly Uint8Array[], count: number, fds: readonly number[]): number {
  return native.sendmsg(fd, chunks, count, fds);
}

/**
 * Receives into `buffer[offset, offset + length)` with
 * `recvmsg(MSG_CMSG_CLOEXEC | MSG_DONTWAIT)` and appends any passed fds to `fdsOut`.
 *
 * Every received fd either ends up in `fdsOut` or is closed before this returns. The
 * received fds are close-on-exec and owned by the caller. If the kernel
 * had to drop passed fds (`MSG_CTRUNC`: the receiver hit `RLIMIT_NOFILE`) the
 * fds that did arrive are closed and `-EMSGSIZE` is returned; the data bytes
 * of that message are consumed, so treat the stream as broken and close it.
 * Never throws for a syscall failure.
 *
 * @param fd - Unix socket to receive from
 * @param buffer - destination; its `byteOffset` is respected
 * @param offset - first byte of `buffer` to fill
 * @param length - at most this many bytes, at least 1 (so that 0 always means end of stream)
 * @param fdsOut - received fds are appended here as own elements; it must be able to grow
 * @returns bytes received, 0 at end of stream, or `-errno`: `-EAGAIN`, `-ECONNRESET`, `-EMSGSIZE`, `-EBADF`
 * @throws TypeError if `buffer` is not a Uint8Array or `fdsOut` not an array; also when fds
 *   arrived and `fdsOut` cannot take them (frozen, sealed, non-extensible, read-only length):
 *   those fds are closed and the message's bytes are consumed, so treat the stream as broken
 * @throws RangeError if the window lies outside `buffer` or `length` is 0 (a 0-byte
 *   `recvmsg(2)` returns 0, which reads as end of stream, yet takes the next message's fds)
 */
export function recvmsg(fd: number, buffer: Uint8Array, offset: number, length: number, fdsOut: number[]): number {
  return native.recvmsg(fd, buffer, offset, length, fdsOut);
}

/**
 * Duplicates `fd` (`fcntl(F_DUPFD_CLOEXEC)`): a second, close-on-exec fd for the same open file,
 * which the caller owns and must close.
 *
 * @param fd - an open fd
 * @returns the new fd, or `-errno`: `-EBADF` (not open), `-EMFILE` (the process is out of fds)
 * @throws TypeError if `fd` is not a non-negative integer
 */
export function duplicateFd(fd: number): number {
  return native.duplicateFd(fd);
}

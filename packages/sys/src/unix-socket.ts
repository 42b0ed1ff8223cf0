// Unix socket calls: create, bind, listen, accept, connect, credentials, socket facts.
import { native, type SocketInfo } from './native.js';

export type { SocketInfo } from './native.js';

/**
 * Creates a Unix stream socket: `socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)`.
 *
 * @returns the new fd; the caller owns it and must {@link close} it
 * @throws {@link SysError} `EMFILE`, `ENFILE`, `ENOMEM`
 */
export function socketUnix(): number {
  return native.socketUnix();
}

/**
 * Binds a Unix socket to a filesystem path or an abstract name.
 *
 * An abstract name is `sun_path[0] = 0` followed by the UTF-8 bytes of `name`,
 * with the exact address length (no padding, so `"x"` and `"x\0"` differ).
 * A filesystem path must be non-empty and free of NUL bytes.
 *
 * @param fd - socket from {@link socketUnix}
 * @param name - the path, or the abstract name without its leading NUL
 * @param abstract - whether `name` is in the abstract namespace
 * @throws {@link SysError} `EADDRINUSE` (name taken), `ENAMETOOLONG` (more than 107 bytes),
 *   `ENOENT` (empty path or missing directory), `EACCES`, `EINVAL` (already bound), `EBADF`, `ENOTSOCK`
 * @throws TypeError if `name` is not a string or a path contains NUL
 */
export function bindUnix(fd: number, name: string, abstract: boolean): void {
  native.bindUnix(fd, name, abstract);
}

/**
 * Marks a bound socket as listening.
 *
 * @param fd - bound socket
 * @param backlog - pending-connection queue length (the kernel caps it at `somaxconn`)
 * @throws {@link SysError} `EADDRINUSE`, `EBADF`, `ENOTSOCK`, `EOPNOTSUPP`
 */
export function listen(fd: number, backlog: number): void {
  native.listen(fd, backlog);
}

/**
 * Creates a connected pair of Unix stream sockets, both non-blocking and close-on-exec.
 *
 * @returns the two fds; the caller owns both
 * @throws {@link SysError} `EMFILE`, `ENFILE`
 */
export function socketpair(): [number, number] {
  return native.socketpair();
}

/**
 * Credentials of the peer process (`SO_PEERCRED`), as of connect or socketpair time.
 *
 * @param fd - connected Unix socket
 * @returns the peer's pid, uid and gid
 * @throws {@link SysError} `EBADF`, `ENOTSOCK`, `ENOTCONN`
 */
export function peerCredentials(fd: number): {
  /** Process id of the peer. */
  pid: number;
  /** Effective user id of the peer. */
  uid: number;
  /** Effective group id of the peer. */
  gid: number;
} {
  return native.peerCredentials(fd);
}

/**
 * Shuts down one or both directions of a connected socket (`shutdown(2)`).
 *
 * `ENOTCONN` is not thrown: a socket that is not connected already carries no
 * data either way (and AF_UNIX sockets never report it).
 *
 * @param fd - socket
 * @param how - `'read'` (`SHUT_RD`), `'write'` (`SHUT_WR`) or `'both'` (`SHUT_RDWR`)
 * @throws {@link SysError} `EBADF`, `ENOTSOCK`
 * @throws TypeError for any other `how`
 */
export function shutdown(fd: number, how: 'read' | 'write' | 'both'): void {
  native.shutdown(fd, how);
}

/**
 * Closes an fd. `EINTR` counts as success: on Linux the fd is gone either way,
 * and retrying could close an fd that another thread has just been given.
 *
 * @param fd - fd to close
 * @throws {@link SysError} `EBADF` (not open), `EIO`
 */
export function close(fd: number): void {
  native.close(fd);
}

/**
 * Sets or clears `O_NONBLOCK` (`fcntl`), for fds adopted from elsewhere
 * (systemd socket activation, a parent's socketpair).
 *
 * @param fd - fd to change
 * @param on - `true` for non-blocking
 * @throws {@link SysError} `EBADF`
 */
export function setNonBlocking(fd: number, on: boolean): void {
  native.setNonBlocking(fd, on);
}

/**
 * Reads and clears the socket's pending error (`getsockopt(SO_ERROR)`).
 *
 * @param fd - socket
 * @returns 0, or the pending error as a positive errno (e.g. `ECONNRESET`)
 * @throws {@link SysError} `EBADF`, `ENOTSOCK`
 */
export function socketError(fd: number): number {
  return native.socketError(fd);
}

/**
 * Accepts a pending connection: `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`, retried on `EINTR`.
 *
 * Never throws for a syscall failure; call it until it returns `-EAGAIN`.
 *
 * @param fd - listening socket
 * @returns the new connection's fd, or `-errno`: `-EAGAIN` (none pending),
 *   `-ECONNABORTED` (try again), `-EMFILE`, `-ENFILE`, `-EBADF`, `-EINVAL` (not listening)
 * @throws RangeError if `fd` is not a non-negative integer
 */
export function accept(fd: number): number {
  return native.accept(fd);
}

/**
 * Connects a Unix socket to a filesystem path or an abstract name (see {@link bindUnix}).
 *
 * Never throws for a syscall failure. On a non-blocking socket `-EAGAIN`
 * means the listener's backlog is full: retry later (AF_UNIX never returns
 * `EINPROGRESS`).
 *
 * @param fd - socket from {@link socketUnix}
 * @param name - the path, or the abstract name without its leading NUL
 * @param abstract - whether `name` is in the abstract namespace
 * @returns 0 when connected, or `-errno`: `-ECONNREFUSED` (nobody listening),
 *   `-ENOENT` (no such path), `-EAGAIN`, `-EACCES`, `-ENAMETOOLONG`, `-EISCONN`
 * @throws TypeError if `name` is not a string or a path contains NUL
 */
export function connectUnix(fd: number, name: string, abstract: boolean): number {
  return native.connectUnix(fd, name, abstract);
}

/**
 * Sets or clears `FD_CLOEXEC` (`fcntl`), for fds inherited from elsewhere (systemd passes its
 * sockets without it): a child process the server spawns must not inherit them.
 *
 * @param fd - fd to change
 * @param on - `true` for close-on-exec
 * @throws {@link SysError} `EBADF`
 */
export function setCloseOnExec(fd: number, on: boolean): void {
  native.setCloseOnExec(fd, on);
}

/**
 * What socket `fd` is: its family, type, whether it listens or has a peer, and a Unix socket's
 * own address, from `getsockopt(SO_DOMAIN, SO_TYPE, SO_ACCEPTCONN)`, `getpeername` and
 * `getsockname`. For checking an fd handed to this process (inherited, received over a socket)
 * before adopting it.
 *
 * @param fd - fd to inspect
 * @returns the socket's family, type, listening and connected state, and address
 * @throws {@link SysError} `EBADF` (not open), `ENOTSOCK` (open, but not a socket)
 */
export function socketInfo(fd: number): SocketInfo {
  return native.socketInfo(fd);
}

/**
 * Creates a Unix datagram socket: `socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC)`,
 * to send with {@link sendToUnix}, or to {@link bindUnix} and {@link read} datagrams from.
 *
 * @returns the new fd; the caller owns it and must {@link close} it
 * @throws {@link SysError} `EMFILE`, `ENFILE`, `ENOMEM`
 */
export function socketUnixDatagram(): number {
  return native.socketUnixDatagram();
}

/**
 * Sends `bytes` as one datagram to a Unix address (see {@link bindUnix} for `name` and
 * `abstract`): `sendto(MSG_NOSIGNAL | MSG_DONTWAIT)`, retried on `EINTR`. Never throws for a
 * syscall failure.
 *
 * @param fd - socket from {@link socketUnixDatagram}
 * @param name - the path, or the abstract name without its leading NUL
 * @param abstract - whether `name` is in the abstract namespace
 * @param bytes - the datagram
 * @returns bytes sent, or `-errno`: `-ENOENT` (no socket at the path), `-ECONNREFUSED` (nobody
 *   bound there), `-EAGAIN` (the receiver's queue is full), `-EACCES`, `-EPROTOTYPE` (not a
 *   datagram socket there), `-EMSGSIZE`, `-ENAMETOOLONG`
 * @throws TypeError if `name` is not a string, a path contains NUL, or `bytes` is not a Uint8Array
 */
export function sendToUnix(fd: number, name: string, abstract: boolean, bytes: Uint8Array): number {
  return native.sendToUnix(fd, name, abstract, bytes);
}

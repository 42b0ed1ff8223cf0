// SocketChannel: a connected Unix stream socket as a Channel, passing fds with SCM_RIGHTS.
import { errnoCode, IpcError, type Channel, type Credentials } from '@pollux/core';
import * as sys from '@pollux/sys';

/** `SCM_MAX_FD`: the kernel refuses more fds in one `SCM_RIGHTS` message. */
export const MAX_FDS_PER_WRITE = 253;

/**
 * A connected Unix stream socket.
 *
 * Fds travel as `SCM_RIGHTS` with the first byte of the write that carries them. The kernel keeps
 * them with that byte: a read that takes it also takes them, and never takes the fds of a later
 * write along (it stops after the bytes that carried them). A plain `read(2)` of those bytes makes
 * the kernel release the fds, so a reader that wants none leaks nothing.
 */
export class SocketChannel implements Channel {
  readonly fd: number;
  /** The peer's credentials from `SO_PEERCRED`, read at connect time while the fd is surely ours. */
  readonly credentials: Credentials;
  readonly maxFdsPerWrite = MAX_FDS_PER_WRITE;
  private open = true;

  /**
   * @param credentials - the peer's, when `SO_PEERCRED` of `fd` does not name it (a socketpair
   * made by the peer: see socket-handover.ts); the kernel's word all the same
   * @throws SysError when the peer's credentials cannot be read (the socket is already dead).
   */
  constructor(fd: number, credentials: Credentials = sys.peerCredentials(fd)) {
    this.fd = fd;
    this.credentials = credentials;
  }

  read(buffer: Uint8Array, offset: number, length: number, fds?: number[]): number {
    // recvmsg costs a control buffer and a scan of it: only a reader that takes fds pays for it.
    if (fds === undefined) return sys.read(this.fd, buffer, offset, length);
    return sys.recvmsg(this.fd, buffer, offset, length, fds);
  }

  writev(chunks: readonly Uint8Array[], count: number, fds?: readonly number[]): number {
    if (fds === undefined || fds.length === 0) return sys.writev(this.fd, chunks, count);
    return sys.sendmsg(this.fd, chunks, count, fds);
  }

  duplicateFd(fd: number): number {
    return sys.duplicateFd(fd);
  }

  closeFd(fd: number): void {
    sys.close(fd);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    sys.close(this.fd);
  }
}

/**
 * Takes over `fd`, a connected Unix stream socket opened elsewhere (inherited from a parent, or
 * received over another channel), as a {@link SocketChannel}: makes it non-blocking and
 * close-on-exec, and reads the peer's credentials from the kernel. The fd belongs to the channel
 * from then on; when this throws, the fd is left as it was, still the caller's.
 *
 * @throws {@link IpcError} `EBADF` when `fd` is no open fd, `ENOTSOCK` when it is no socket,
 * `EPROTOTYPE` when it is not a Unix stream socket, `ENOTCONN` when it is not connected (a
 * listening socket, or one never connected).
 */
export function adoptConnectedFd(fd: number): SocketChannel {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new IpcError('EBADF', `${String(fd)} is not a file descriptor: pass the number of an open fd`);
  }
  let info: sys.SocketInfo;
  try {
    info = sys.socketInfo(fd);
  } catch (error) {
    const failure = IpcError.from(error, 'EIO');
    switch (failure.code) {
      case 'EBADF':
        throw new IpcError(
          'EBADF',
          `fd ${fd} is not open in this process: check that the parent passed it (e.g. in spawn's stdio) and that nothing closed it`,
          { cause: error },
        );
      case 'ENOTSOCK':
        throw new IpcError(
          errnoCode('ENOTSOCK'),
          `fd ${fd} is not a socket: pass one end of a Unix socketpair or a connected Unix socket`,
          { cause: error },
        );
      default:
        throw new IpcError(failure.code, `cannot inspect fd ${fd}: ${failure.message}`, { cause: error });
    }
  }
  if (info.family !== 'unix' || info.type !== 'stream') {
    throw new IpcError(
      errnoCode('EPROTOTYPE'),
      `fd ${fd} is a socket but not a Unix stream socket (family ${info.family}, type ${info.type}): ` +
        'pass one end of socketpair(AF_UNIX, SOCK_STREAM) or a connected Unix stream socket',
    );
  }
  if (!info.connected) {
    throw new IpcError(
      'ENOTCONN',
      info.listening
        ? `fd ${fd} is a listening socket, not a connection: listen on it with a server, or pass a connected socket`
        : `fd ${fd} is a Unix socket that is not connected: connect it first, or pass one end of a socketpair`,
    );
  }
  try {
    sys.setNonBlocking(fd, true);
    sys.setCloseOnExec(fd, true);
    return new SocketChannel(fd);
  } catch (error) {
    throw IpcError.from(error, 'EIO');
  }
}

import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { IpcError, errnoName, type Channel, type Listener, type SyncConnector, type Transport } from '@pollux/core';
import * as sys from '@pollux/sys';
import { parseSocketAddress, type SocketAddress } from './socket-address.js';
import { adopt, SocketListener } from './socket-listener.js';

/** Options of {@link SocketTransport}. */
export interface SocketTransportOptions {
  /** File mode of a listening socket's file, e.g. `0o660` to admit a group. Default: per umask. */
  readonly mode?: number;
  /** Length of the accept queue. Default 1024 (the kernel caps it at `somaxconn`). */
  readonly backlog?: number;
}

/**
 * A {@link Transport} on Unix stream sockets. An address is a filesystem path
 * (`/run/myapp.sock`) or, with a leading `@`, a name in Linux's abstract namespace (`@myapp`),
 * which needs no file and vanishes with its last socket.
 *
 * Listening on a path whose socket file was left behind by a crashed server reuses it; a path
 * where a server still answers fails with `EADDRINUSE`. Peer credentials come from
 * `SO_PEERCRED`.
 */
export class SocketTransport implements Transport, SyncConnector {
  private readonly mode: number | undefined;
  private readonly backlog: number;

  /** @param options - socket file mode and backlog */
  constructor(options: SocketTransportOptions = {}) {
    this.mode = options.mode;
    this.backlog = options.backlog ?? 1024;
  }

  /**
   * Binds and listens on `address`.
   *
   * @throws {@link @pollux/core!index.IpcError} `EADDRINUSE` when a live server holds the address or a non-socket
   * file is in the way, `EACCES` when the directory is not writable, `ENAMETOOLONG`, `EINVAL`.
   */
  listen(address: string): Listener {
    const target = parseSocketAddress(address);
    const fd = this.openSocket(address);
    try {
      this.bind(fd, target, address);
      if (!target.abstract && this.mode !== undefined) chmodSync(target.name, this.mode);
      sys.listen(fd, this.backlog);
      return new SocketListener(fd, address, target.abstract ? undefined : target.name);
    } catch (error) {
      sys.close(fd);
      throw IpcError.from(error, 'EIO');
    }
  }

  /**
   * Connects to `address`.
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` when no socket exists at the path, `ECONNREFUSED` when
   * nothing listens there, `EAGAIN` when the server's accept queue is full, `EACCES` without
   * permission.
   */
  async connect(address: string): Promise<Channel> {
    return this.connectSync(address);
  }

  /**
   * Connects to `address` without waiting: a Unix socket connects at once or fails at once.
   *
   * @throws {@link @pollux/core!index.IpcError} as {@link SocketTransport.connect}.
   */
  connectSync(address: string): Channel {
    const target = parseSocketAddress(address);
    const fd = this.openSocket(address);
    const status = sys.connectUnix(fd, target.name, target.abstract);
    const channel = status === 0 ? adopt(fd) : status;
    if (typeof channel !== 'number') return channel;
    if (status !== 0) sys.close(fd);
    throw connectError(channel, address);
  }

  private openSocket(address: string): number {
    try {
      return sys.socketUnix();
    } catch (error) {
      throw wrap(error, `cannot create a socket for ${address}`);
    }
  }

  private bind(fd: number, target: SocketAddress, address: string): void {
    try {
      sys.bindUnix(fd, target.name, target.abstract);
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EADDRINUSE' || target.abstract || !isStaleSocket(target)) {
        throw wrap(error, `cannot listen on ${address}`);
      }
    }
    // A crashed server left its socket file: nobody answers on it, so it is safe to replace.
    unlinkSync(target.name);
    try {
      sys.bindUnix(fd, target.name, false);
    } catch (error) {
      throw wrap(error, `cannot listen on ${address}`);
    }
  }
}

/** A socket file that refuses connections has no server behind it. */
function isStaleSocket(target: SocketAddress): boolean {
  try {
    if (!lstatSync(target.name).isSocket()) return false;
  } catch {
    return false;
  }
  const probe = sys.socketUnix();
  try {
    return sys.connectUnix(probe, target.name, false) === -constants.errno.ECONNREFUSED;
  } finally {
    sys.close(probe);
  }
}

function connectError(status: number, address: string): IpcError {
  const code = errnoName(status);
  switch (code) {
    case 'ENOENT':
      return new IpcError(code, `no socket at ${address}: is the server running?`);
    case 'ECONNREFUSED':
      return new IpcError(code, `nothing listens at ${address}: the server is down or restarting`);
    case 'EAGAIN':
      return new IpcError(code, `the server at ${address} has a full accept queue: retry shortly`);
    case 'EACCES':
      return new IpcError(code, `no permission to connect to ${address}: check the socket's mode and owner`);
    default:
      return new IpcError(code, `cannot connect to ${address}: ${code}`);
  }
}

function wrap(error: unknown, what: string): IpcError {
  const failure = IpcError.from(error, 'EIO');
  return new IpcError(failure.code, `${what}: ${failure.message}`, { cause: error });
}

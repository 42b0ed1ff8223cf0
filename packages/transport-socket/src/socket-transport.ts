import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { IpcError, type Channel, type Listener, type SyncConnector, type Transport } from '@pollux/core';
import * as sys from '@pollux/sys';
import { parseSocketAddress, type SocketAddress } from './socket-address.js';
import {
  addressInUse,
  connectError,
  listenError,
  socketCreationError,
  staleFileStays,
  type AddressHolder,
} from './socket-errors.js';
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
 * Listening on a path whose socket file was left behind by a server that stopped (nothing
 * answers on it) removes that file and takes the path over; a path where a server still answers
 * fails with `EADDRINUSE` and is left alone. Peer credentials come from `SO_PEERCRED`.
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
   * Binds and listens on `address`. A socket file there that nobody answers on is replaced.
   *
   * @throws {@link @pollux/core!index.IpcError} `EADDRINUSE` when a server listens there, a file that is
   * not a socket is in the way, or a socket file this process may not probe is; `ENOENT` /
   * `ENOTDIR` when the directory does not exist; `EACCES` / `EPERM` when it is not writable (or a
   * left-over socket file in it cannot be removed); `EROFS`; `ENAMETOOLONG` (over 107 bytes);
   * `EINVAL` (empty, or a path with a NUL byte); `EMFILE` / `ENFILE`. Each message names the
   * address or directory and says what to do.
   */
  listen(address: string): Listener {
    const target = parseSocketAddress(address);
    const fd = openSocket(address);
    try {
      bindTo(fd, target, address);
      if (!target.abstract && this.mode !== undefined) chmodSync(target.name, this.mode);
      sys.listen(fd, this.backlog);
      return new SocketListener(fd, address, target.abstract ? undefined : target.name);
    } catch (error) {
      sys.close(fd);
      throw error instanceof IpcError ? error : listenError(error, address, target);
    }
  }

  /**
   * Connects to `address`.
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` when no socket exists at the path, `ECONNREFUSED` when
   * nothing listens there, `EAGAIN` when the server's accept queue is full, `EACCES` without
   * permission, `ENAMETOOLONG` (over 107 bytes), `EINVAL` (empty, or a path with a NUL byte),
   * `EMFILE` / `ENFILE`.
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
    const fd = openSocket(address);
    let status: number;
    try {
      status = sys.connectUnix(fd, target.name, target.abstract);
    } catch (error) {
      sys.close(fd);
      throw IpcError.from(error, 'EIO');
    }
    if (status !== 0) {
      sys.close(fd);
      throw connectError(status, address, target);
    }
    const channel = adopt(fd);
    if (typeof channel === 'number') throw connectError(channel, address, target);
    return channel;
  }
}

function openSocket(address: string): number {
  try {
    return sys.socketUnix();
  } catch (error) {
    throw socketCreationError(error, address);
  }
}

/** Binds `fd` to `target`, replacing a socket file a stopped server left behind. */
function bindTo(fd: number, target: SocketAddress, address: string): void {
  try {
    sys.bindUnix(fd, target.name, target.abstract);
    return;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'EADDRINUSE' || target.abstract)
      throw listenError(error, address, target);
    const holder = holderOf(target.name);
    if (holder !== 'stale-socket') throw addressInUse(holder, address, error);
  }
  try {
    unlinkSync(target.name);
  } catch (error) {
    // Gone already is just as good.
    if ((error as { code?: unknown }).code !== 'ENOENT') throw staleFileStays(error, address);
  }
  sys.bindUnix(fd, target.name, false);
}

/** What holds the filesystem address `path` that bind found taken. */
function holderOf(path: string): AddressHolder | 'stale-socket' {
  try {
    if (!lstatSync(path).isSocket()) return 'not-a-socket';
  } catch {
    // Gone since bind looked: as good as stale, and the second bind says what is there now.
    return 'stale-socket';
  }
  const probe = sys.socketUnix();
  let status: number;
  try {
    status = sys.connectUnix(probe, path, false);
  } finally {
    sys.close(probe);
  }
  switch (status) {
    case -constants.errno.ECONNREFUSED:
      return 'stale-socket';
    case -constants.errno.EACCES:
    case -constants.errno.EPERM:
      return 'unreachable-socket';
    default:
      return 'server';
  }
}

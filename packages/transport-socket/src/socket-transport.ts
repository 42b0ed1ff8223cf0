// SocketTransport: the Transport over Unix stream sockets (listen, connect, adopt).
import { chmodSync, chownSync, linkSync, lstatSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { IpcError, type Channel, type Listener, type SyncConnector, type Transport } from '@pollux/core';
import * as sys from '@pollux/sys';
import { parseSocketAddress, SUN_PATH_MAX, type SocketAddress } from './socket-address.js';
import {
  addressInUse,
  asideTooLong,
  badFileAttribute,
  chownError,
  connectError,
  fileAttributesOnAbstract,
  fileAttributesOnInherited,
  listenError,
  socketCreationError,
  staleFileStays,
  type AddressHolder,
} from './socket-errors.js';
import { adopt, SocketListener } from './socket-listener.js';
import { checkListeningSocket, parseInheritedAddress, type InheritedAddress } from './inherited-listener.js';
import { adoptConnectedFd } from './socket-channel.js';

/** The address form that takes over a connected fd: `fd:3`. */
const FD_PREFIX = 'fd:';

/**
 * Options of {@link SocketTransport}. `mode`, `owner` and `group` apply to a listening socket's
 * file, and are in place before the file appears at its address: no client ever finds it with
 * other ones. They mean nothing for an abstract address, which has no file.
 */
export interface SocketTransportOptions {
  /**
   * Permission bits of a listening socket's file, 0–0o777, e.g. `0o660` to admit a group.
   * Connecting takes write permission. Default: 0o777 less the umask.
   */
  readonly mode?: number;
  /**
   * Owner of a listening socket's file, as a numeric uid (names are not looked up). Giving the
   * file away takes root (`CAP_CHOWN`). Default: the server's effective uid.
   */
  readonly owner?: number;
  /**
   * Group of a listening socket's file, as a numeric gid (names are not looked up). Without root
   * only a group the server's user belongs to. Default: the server's effective gid, or the
   * directory's group when it has the set-group-ID bit.
   */
  readonly group?: number;
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
 *
 * `connect('fd:N')` takes over fd N, a Unix stream socket already connected elsewhere (one end of
 * a socketpair a parent passed down), instead of connecting anew: see {@link SocketTransport.adopt}.
 * A relative socket path that starts with `fd:` is written `./fd:…`. Channels pass fds with
 * `SCM_RIGHTS`, up to 253 per write.
 */
export class SocketTransport implements Transport, SyncConnector {
  private readonly mode: number | undefined;
  private readonly owner: number | undefined;
  private readonly group: number | undefined;
  private readonly backlog: number;
  /** Fds taken over by `connect('fd:N')`: a retry or reconnection must not take whatever now has that number. */
  private readonly connectedFds = new Set<number>();

  /**
   * @param options - socket file mode, owner and group, and backlog
   * @throws {@link @pollux/core!index.IpcError} `EINVAL` when `mode` is not in 0–0o777 or `owner` /
   * `group` is not a numeric id.
   */
  constructor(options: SocketTransportOptions = {}) {
    this.mode = fileAttribute('mode', options.mode, 0o777);
    this.owner = fileAttribute('owner', options.owner, MAX_ID);
    this.group = fileAttribute('group', options.group, MAX_ID);
    this.backlog = options.backlog ?? 1024;
  }

  /** Whether a listening socket's file gets a mode, owner or group of its own. */
  private get setsFileAttributes(): boolean {
    return this.mode !== undefined || this.owner !== undefined || this.group !== undefined;
  }

  /**
   * Binds and listens on `address`. A socket file there that nobody answers on is replaced.
   *
   * Two forms take over a socket that is already listening instead: `systemd:<name>` the next
   * socket systemd passed under that name (`LISTEN_FDNAMES`; `systemd:` the next one whatever its
   * name), `fd:<n>` fd `n`, inherited any other way. The first `systemd:` address read reads
   * `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`, unsets them and makes every passed fd
   * close-on-exec, so child processes inherit neither; fds no listen takes stay open for a later
   * one. An adopted fd must be a listening Unix stream socket; it is made non-blocking and
   * close-on-exec, and closing its listener closes it but never removes its file, which belongs
   * to whoever made the socket. `backlog` does not apply to it.
   *
   * @throws {@link @pollux/core!index.IpcError} `EADDRINUSE` when a server listens there, a file that is
   * not a socket is in the way, or a socket file this process may not probe is; `ENOENT` /
   * `ENOTDIR` when the directory does not exist; `EACCES` / `EPERM` when it is not writable (or a
   * left-over socket file in it cannot be removed); `EROFS`; `ENAMETOOLONG` (over 107 bytes);
   * `EINVAL` (empty, a path with a NUL byte, or `mode` / `owner` / `group` with an abstract or
   * adopted address); `EPERM` when the process may not give the socket file its `owner` or `group`;
   * `EMFILE` / `ENFILE`. For `systemd:` and `fd:`: `ENOENT` when systemd passed no such socket to
   * this process (the message names those it passed), `EINVAL` for a malformed `fd:` or a socket
   * that does not listen, `EBADF` for an fd that is not open, `ENOTSOCK` for one that is no socket,
   * `EAFNOSUPPORT` for a TCP or other non-Unix socket, `EPROTOTYPE` for a datagram or seqpacket
   * socket, `EBUSY` when a listener of this process already holds the fd. Each message names the
   * address, directory or fd and says what to do.
   */
  listen(address: string): Listener {
    const inherited = parseInheritedAddress(address);
    if (inherited !== undefined) return this.adoptListening(inherited, address);
    const target = parseSocketAddress(address);
    if (target.abstract && this.setsFileAttributes) throw fileAttributesOnAbstract(address);
    const fd = openSocket(address);
    try {
      if (this.setsFileAttributes) {
        this.listenAside(fd, target, address);
      } else {
        claimPath(target, address, () => sys.bindUnix(fd, target.name, target.abstract));
        sys.listen(fd, this.backlog);
      }
      return new SocketListener(fd, address, target.abstract ? undefined : target.name);
    } catch (error) {
      sys.close(fd);
      throw error instanceof IpcError ? error : listenError(error, address, target);
    }
  }

  /** Takes over a listening socket this process did not create (see {@link SocketTransport.listen}). */
  private adoptListening(inherited: InheritedAddress, address: string): Listener {
    if (this.setsFileAttributes) throw fileAttributesOnInherited(address);
    checkListeningSocket(inherited, address);
    inherited.take();
    return new SocketListener(inherited.fd, address, undefined);
  }

  /**
   * Binds and listens in a private directory beside the address, gives the file its attributes
   * there, then links it into place: it appears at the address complete and already accepting.
   * Chmod after a bind at the address itself would leave a window with the umask's mode, and a
   * second server starting then would take the not-yet-listening file for a stale one.
   */
  private listenAside(fd: number, target: SocketAddress, address: string): void {
    const privateDir = mkdtempSync(join(dirname(target.name), '.pollux-'));
    const aside = join(privateDir, 's');
    try {
      if (Buffer.byteLength(aside) > SUN_PATH_MAX) throw asideTooLong(address, aside);
      sys.bindUnix(fd, aside, false);
      if (this.mode !== undefined) chmodSync(aside, this.mode);
      if (this.owner !== undefined || this.group !== undefined) {
        try {
          chownSync(aside, this.owner ?? -1, this.group ?? -1);
        } catch (error) {
          throw chownError(error, address, this.owner, this.group);
        }
      }
      sys.listen(fd, this.backlog);
      // link, not rename: rename would silently replace the file of a server that started meanwhile.
      claimPath(target, address, () => linkSync(aside, target.name));
    } finally {
      rmSync(privateDir, { recursive: true, force: true });
    }
  }

  /**
   * Connects to `address`, or takes over fd N for `fd:N` (see {@link SocketTransport.adopt}).
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` when no socket exists at the path, `ECONNREFUSED` when
   * nothing listens there, `EAGAIN` when the server's accept queue is full, `EACCES` without
   * permission, `ENAMETOOLONG` (over 107 bytes), `EINVAL` (empty, a path with a NUL byte, or
   * `fd:` not followed by a number), `EMFILE` / `ENFILE`; for `fd:N` the codes of
   * {@link SocketTransport.adopt}, and `EBADF` when this transport already took fd N over (a
   * retry or reconnection: the fd went with the first connection).
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
    if (address.startsWith(FD_PREFIX)) return this.connectFd(address);
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

  /**
   * Takes over `fd`, a Unix stream socket connected elsewhere: one end of a socketpair a parent
   * passed down (see `spawnWithChannel` in the `pollux` package), or a connection received over
   * another channel. It becomes non-blocking and close-on-exec, and the peer's credentials come
   * from the kernel (`SO_PEERCRED`) as for any connection. The returned channel owns the fd from
   * then on (hand it to `IpcServer.adopt`); when this throws, the fd is left as it was.
   *
   * @param fd - the connected socket
   * @throws {@link @pollux/core!index.IpcError} `EBADF` when `fd` is not open, `ENOTSOCK` when it is no
   * socket, `EPROTOTYPE` when it is not a Unix stream socket, `ENOTCONN` when it is not connected
   * (a listening socket, or one never connected). Each message says what to pass instead.
   */
  adopt(fd: number): Channel {
    return adoptConnectedFd(fd);
  }

  private connectFd(address: string): Channel {
    const digits = address.slice(FD_PREFIX.length);
    if (!/^\d{1,10}$/.test(digits)) {
      throw new IpcError(
        'EINVAL',
        `${JSON.stringify(address)} is not an fd address: write fd:<number>, e.g. fd:3, or ./${address} for a socket path`,
      );
    }
    const fd = Number(digits);
    if (this.connectedFds.has(fd)) {
      throw new IpcError(
        'EBADF',
        `fd ${fd} was already taken over by this transport and went with that connection: ` +
          'an inherited connection cannot be made again; connect to the server by address instead',
      );
    }
    const channel = adoptConnectedFd(fd);
    this.connectedFds.add(fd);
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

/** The largest uid or gid; `(uid_t)-1` means "unchanged" to chown. */
const MAX_ID = 0xfffffffe;

/** A file attribute option: undefined, or an integer in 0–`max`. */
function fileAttribute(name: string, value: number | undefined, max: number): number | undefined {
  if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > max)) {
    throw badFileAttribute(name, value, max);
  }
  return value;
}

/**
 * Puts a file at `target` with `place` (a bind or a link, which fail when the name is taken),
 * replacing a socket file a stopped server left behind.
 */
function claimPath(target: SocketAddress, address: string, place: () => void): void {
  try {
    place();
    return;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if ((code !== 'EADDRINUSE' && code !== 'EEXIST') || target.abstract) throw listenError(error, address, target);
    const holder = holderOf(target.name);
    if (holder !== 'stale-socket') throw addressInUse(holder, address, error);
  }
  try {
    unlinkSync(target.name);
  } catch (error) {
    // Gone already is just as good.
    if ((error as { code?: unknown }).code !== 'ENOENT') throw staleFileStays(error, address);
  }
  place();
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

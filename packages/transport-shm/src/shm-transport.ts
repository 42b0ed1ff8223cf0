// ShmTransport: the Transport whose connections move their bytes through shared-memory rings.
import { constants } from 'node:os';
import { IpcError, type Channel, type Listener, type Transport } from '@pollux/core';
import { SocketTransport, type SocketTransportOptions } from '@pollux/transport-socket';
import { isRingSize, MAX_RING_BYTES, MIN_RING_BYTES } from './ring.js';
import { ShmChannel, type ShmChannelSettings } from './shm-channel.js';

/** Options of {@link ShmTransport}. */
export interface ShmTransportOptions extends SocketTransportOptions {
  /**
   * Bytes of each ring this side writes into, a power of two from 4 KiB to 16 MiB. A message
   * larger than the ring streams through it in pieces; a larger ring means fewer wake-ups for bulk
   * transfers. Each connection maps one ring of each side. Default 256 KiB.
   */
  readonly ringBytes?: number;
  /**
   * Lends received bytes in place (zero-copy receive): a handler's request payload and an
   * `'event'` listener's payload are then views of the peer's ring, valid only until the callback
   * returns, that the peer may rewrite at any moment, and that live in memory mapped read-only:
   * **writing into one kills the process with SIGSEGV**. Copy what you keep, validate only a copy,
   * never write in place. `request()` still resolves with a copy. Default false: payloads are
   * copies out of the ring, as over sockets.
   */
  readonly lendViews?: boolean;
  /**
   * With {@link ShmTransportOptions.lendViews}, checks that receivers keep no view past its lend (a debug aid): each lend is a
   * private copy of the ring, detached once released, so a payload a handler or event listener
   * kept reads as empty (length 0) afterwards, and a response made of it goes out empty. Costs a
   * copy per lend. Default: on when the environment variable `POLLUX_CHECK_VIEWS` is `1`.
   */
  readonly checkLentViews?: boolean;
  /**
   * Microseconds to poll for the peer's answer after sending, before going to sleep: an answer
   * that comes within that time costs neither side a system call or a wake-up (a cross-CPU
   * wake-up costs about 20 µs here), which pays when each side has a CPU of its own. Set it on
   * both sides. A spin runs only after a write the peer is expected to answer: a client's
   * requests, a server's responses (the client's next request tends to follow); never after
   * events alone. The price is CPU: a side burns its CPU for up to this long after each such write
   * whose answer is late or never comes, and holds its poller meanwhile. A connection spins at
   * most four times this long in all, and reads at most 32 answers this way, before its poller
   * runs again, so timers and a server's other fds wait at most about `4 × spinMicros` per busy
   * connection, however the peer times its answers. On one shared CPU a spin only delays the
   * peer. A number from 0 to 1,000; default 0, no spin.
   */
  readonly spinMicros?: number;
}

const DEFAULT_RING_BYTES = 256 * 1024;
/** The longest spin accepted: past a millisecond, sleeping and being woken costs less. */
const MAX_SPIN_MICROS = 1000;

/**
 * A {@link Transport} over shared memory (libqb's and coroipc's shm transport): each connection's
 * bytes go through two rings in `memfd` memory, one per direction, each written only by the side
 * that owns and sealed it, while the connection's Unix socket carries the set-up, the doorbells
 * and the liveness. Addresses and socket options are {@link SocketTransport}'s (a path or
 * `@abstract` name; `mode`, `owner`, `group`, `backlog` for the listening socket), credentials
 * come from `SO_PEERCRED` of that socket. No synchronous connect: use `IpcClient`, not
 * `SyncClient`.
 */
export class ShmTransport implements Transport {
  private readonly sockets: SocketTransport;
  private readonly settings: ShmChannelSettings;

  /**
   * @param options - ring size, views, view checks, spin, and the listening socket's options
   * @throws {@link @pollux/core!index.IpcError} `EINVAL` for a `ringBytes` that is no power of two in
   * 4 KiB–16 MiB, a `spinMicros` that is no number from 0 to 1,000, and as
   * {@link SocketTransport}'s constructor.
   */
  constructor(options: ShmTransportOptions = {}) {
    const {
      ringBytes = DEFAULT_RING_BYTES,
      lendViews = false,
      checkLentViews = process.env['POLLUX_CHECK_VIEWS'] === '1',
      spinMicros = 0,
      ...socketOptions
    } = options;
    if (!isRingSize(ringBytes)) {
      throw new IpcError(
        'EINVAL',
        `ringBytes must be a power of two from ${MIN_RING_BYTES} to ${MAX_RING_BYTES}, not ${String(ringBytes)}`,
      );
    }
    if (typeof spinMicros !== 'number' || !(spinMicros >= 0 && spinMicros <= MAX_SPIN_MICROS)) {
      throw new IpcError(
        'EINVAL',
        `spinMicros must be a number of microseconds from 0 to ${MAX_SPIN_MICROS}, not ${String(spinMicros)}`,
      );
    }
    this.settings = {
      ringBytes,
      lendViews: lendViews === true,
      checkLentViews: checkLentViews === true,
      spinMicros,
    };
    this.sockets = new SocketTransport(socketOptions);
  }

  /**
   * Listens on `address` as {@link SocketTransport.listen} does (`systemd:` and `fd:` included);
   * accepted connections switch to shared memory after the hello.
   *
   * @throws {@link @pollux/core!index.IpcError} as {@link SocketTransport.listen}.
   */
  listen(address: string): Listener {
    return new ShmListener(this.sockets.listen(address), this.settings);
  }

  /**
   * Connects to `address` as {@link SocketTransport.connect} does.
   *
   * @throws {@link @pollux/core!index.IpcError} as {@link SocketTransport.connect}, and `EMFILE` /
   * `ENFILE` / `ENOMEM` when the connection's epoll set or eventfd cannot be made.
   */
  async connect(address: string): Promise<Channel> {
    const socket = this.sockets.connectSync(address);
    try {
      return new ShmChannel(socket, true, this.settings);
    } catch (error) {
      socket.close();
      throw error;
    }
  }
}

/** A listening socket whose connections become {@link ShmChannel}s. */
class ShmListener implements Listener {
  readonly fd: number;
  readonly address: string;
  private readonly sockets: Listener;
  private readonly settings: ShmChannelSettings;

  constructor(sockets: Listener, settings: ShmChannelSettings) {
    this.sockets = sockets;
    this.fd = sockets.fd;
    this.address = sockets.address;
    this.settings = settings;
  }

  accept(): Channel | number {
    const socket = this.sockets.accept();
    if (typeof socket === 'number') return socket;
    try {
      return new ShmChannel(socket, false, this.settings);
    } catch (error) {
      socket.close();
      // Out of fds or memory: the server pauses accepting, as for a failed accept(2).
      const code = IpcError.from(error, 'EIO').code as keyof typeof constants.errno;
      return -(constants.errno[code] ?? constants.errno.EIO);
    }
  }

  close(): void {
    this.sockets.close();
  }
}

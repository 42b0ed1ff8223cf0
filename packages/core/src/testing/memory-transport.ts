// MemoryTransport and MemoryListener: the Transport contract in memory, for engine unit tests (testing).
import { constants } from 'node:os';
import { EAGAIN, IpcError } from '../errors.js';
import { Ready, type ReadyMask } from '../contracts/poller.js';
import type { Channel, Credentials, Listener, Transport } from '../contracts/transport.js';
import type { MemoryChannel } from './memory-channel.js';
import type { MemoryNetwork } from './memory-network.js';

const EBADF = -constants.errno.EBADF;

/** Fake pids for transports made without one, so each "process" of a test has its own. */
let nextPid = 1000;

/**
 * A listening address on a {@link MemoryNetwork}: connections made to it wait in its backlog,
 * which makes its fd readable, until {@link MemoryListener.accept} takes them.
 */
export class MemoryListener implements Listener {
  /** The fake fd that is readable while a connection waits. */
  readonly fd: number;
  /** The address it listens on. */
  readonly address: string;
  /** The credentials its clients see. */
  readonly credentials: Credentials;
  private readonly network: MemoryNetwork;
  private readonly backlog: MemoryChannel[] = [];
  private closed = false;

  /** @internal Made by {@link MemoryTransport.listen}. */
  constructor(network: MemoryNetwork, address: string, credentials: Credentials) {
    this.network = network;
    this.address = address;
    this.credentials = credentials;
    network.bind(address, this);
    this.fd = network.openFd((): ReadyMask => (this.backlog.length > 0 ? Ready.Readable : 0));
  }

  /** Connections made and not accepted yet. */
  get waiting(): number {
    return this.backlog.length;
  }

  /** @internal */
  enqueue(channel: MemoryChannel): void {
    this.backlog.push(channel);
  }

  accept(): Channel | number {
    if (this.closed) return EBADF;
    const channel = this.backlog.shift();
    if (channel === undefined) return EAGAIN;
    this.network.touch();
    return channel;
  }

  /** Stops listening: the address is free again, and connections still waiting are reset. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.network.unbind(this.address, this);
    this.network.closeFd(this.fd);
    for (const channel of this.backlog.splice(0)) {
      channel.crash();
      // A crashed end keeps its fd for its owner to close; these have no owner.
      channel.close();
    }
  }
}

/**
 * The {@link Transport} contract in memory, on a {@link MemoryNetwork}: `listen` gives a
 * {@link MemoryListener}, `connect` a {@link MemoryChannel} whose peer the listener accepts. One
 * transport stands for one process: the servers it listens for and the connections it makes
 * carry its {@link MemoryTransport.credentials}, so a test gives each fake client process (each
 * uid, say) a transport of its own.
 *
 * @example
 * ```ts
 * const network = new MemoryNetwork();
 * const serverSide = new MemoryTransport(network, { uid: 0 });
 * const stranger = new MemoryTransport(network, { uid: 1001, gid: 1001 });
 * // a service's accept hook sees uid 1001 for connections `stranger` makes
 * ```
 */
export class MemoryTransport implements Transport {
  /** The network its fds and addresses live on. */
  readonly network: MemoryNetwork;
  /** Who this transport's process is: the peer credentials the other end of its connections sees. */
  readonly credentials: Credentials;
  /** The client ends of the connections this transport made, oldest first: crash or inspect them. */
  readonly connections: MemoryChannel[] = [];

  /**
   * @param network - where its fds and addresses live
   * @param credentials - who it is; default uid and gid 1000, and a pid of its own
   */
  constructor(network: MemoryNetwork, credentials: Partial<Credentials> = {}) {
    this.network = network;
    this.credentials = {
      pid: credentials.pid ?? nextPid++,
      uid: credentials.uid ?? 1000,
      gid: credentials.gid ?? 1000,
    };
  }

  /**
   * Starts listening on `address`, any string.
   *
   * @throws {@link @pollux/core!index.IpcError} `EADDRINUSE` when a listener of the same network holds it.
   */
  listen(address: string): MemoryListener {
    return new MemoryListener(this.network, address, this.credentials);
  }

  /**
   * Connects to `address`; the server's end waits in its listener's backlog.
   *
   * @throws {@link @pollux/core!index.IpcError} (as a rejection) `ECONNREFUSED` when nothing listens there.
   */
  connect(address: string): Promise<MemoryChannel> {
    try {
      const channel = this.network.connect(address, this.credentials);
      this.connections.push(channel);
      return Promise.resolve(channel);
    } catch (error) {
      return Promise.reject(IpcError.from(error, 'ECONNREFUSED'));
    }
  }
}

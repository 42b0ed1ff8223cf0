// MemoryNetwork: fake fds, addresses and connections in memory, the world a ManualPoller polls (testing).
import { IpcError } from '../errors.js';
import type { ReadyMask } from '../contracts/poller.js';
import type { Credentials } from '../contracts/transport.js';
import { MemoryChannel } from './memory-channel.js';
import type { ReadinessSource } from './manual-poller.js';

/** Fake fds start here: far above what a test process opens, so a real fd is never mistaken for one. */
const FIRST_FD = 100_000;
/** `SCM_MAX_FD`: the most fds a Unix socket passes with one message. */
const SCM_MAX_FD = 253;

/** Options of {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /**
   * Bytes each direction of a connection buffers: a `writev` takes only what fits and returns
   * `-EAGAIN` when nothing does. Make it small to test backpressure. Default 64 KiB.
   */
  readonly bufferSize?: number;
  /** The most fds one `writev` may carry; 0 passes none. Default 253, a Unix socket's `SCM_MAX_FD`. */
  readonly maxFdsPerWrite?: number;
}

/** What a listening address does with a connection made to it. */
export interface ConnectionTarget {
  /** The credentials its clients see: those of the process that listens. */
  readonly credentials: Credentials;
  /** Queues the server's end of a new connection, to be accepted. */
  enqueue(channel: MemoryChannel): void;
}

/** An open fake fd: what it reports to a poller, and the file it stands for. */
interface FakeFd {
  readonly readiness: (interest: ReadyMask) => ReadyMask;
  readonly file: number;
}

const NEVER_READY = (): ReadyMask => 0;

/**
 * The in-memory world of engine unit tests: the fake fds that {@link MemoryTransport}s open, the
 * addresses they listen on, and the readiness of every fd, which a {@link ManualPoller} reads.
 * Make one per test; give its transports to servers and clients and the network itself to the
 * poller:
 *
 * @example
 * ```ts
 * const network = new MemoryNetwork({ bufferSize: 4096 });
 * const poller = new ManualPoller(network);
 * const server = new IpcServer({ poller, transport: new MemoryTransport(network) });
 * ```
 *
 * Nothing here calls the system: fd numbers come from a counter, and {@link MemoryNetwork.openFds}
 * counts the open ones so a test can check that nothing leaked.
 */
export class MemoryNetwork implements ReadinessSource {
  private readonly fds = new Map<number, FakeFd>();
  private readonly targets = new Map<string, ConnectionTarget>();
  private readonly bufferSize: number;
  private readonly maxFdsPerWrite: number;
  private nextFd = FIRST_FD;
  private nextFile = 1;
  private changes = 0;

  /**
   * @param options - buffer size and fd passing
   * @throws {@link @pollux/core!index.IpcError} `EINVAL` for a buffer size that is not a positive integer or an fd
   * count that is not an integer from 0 to 253.
   */
  constructor(options: MemoryNetworkOptions = {}) {
    const bufferSize = options.bufferSize ?? 64 * 1024;
    const maxFdsPerWrite = options.maxFdsPerWrite ?? SCM_MAX_FD;
    if (!Number.isSafeInteger(bufferSize) || bufferSize < 1)
      throw new IpcError('EINVAL', `bufferSize must be a positive integer of bytes, got ${String(bufferSize)}`);
    if (!Number.isInteger(maxFdsPerWrite) || maxFdsPerWrite < 0 || maxFdsPerWrite > SCM_MAX_FD)
      throw new IpcError('EINVAL', `maxFdsPerWrite must be an integer from 0 to 253, got ${String(maxFdsPerWrite)}`);
    this.bufferSize = bufferSize;
    this.maxFdsPerWrite = maxFdsPerWrite;
  }

  /** Counts every change to any fd's readiness: a poller that sees it unchanged knows a turn did nothing. */
  get version(): number {
    return this.changes;
  }

  /** Fake fds open now: channels, listeners and passed fds. Back to its start once everything is closed. */
  get openFds(): number {
    return this.fds.size;
  }

  /** What `fd` is ready for now, or undefined when it is not open. */
  readiness(fd: number, interest: ReadyMask): ReadyMask | undefined {
    return this.fds.get(fd)?.readiness(interest);
  }

  /**
   * Opens a fake fd that stands for a file of its own and is never ready: something to pass over a
   * channel. Close it with {@link MemoryNetwork.closeFd}.
   */
  openFile(): number {
    return this.add(NEVER_READY, this.nextFile++);
  }

  /** Closes a fake fd; closing one that is not open does nothing. */
  closeFd(fd: number): void {
    if (this.fds.delete(fd)) this.touch();
  }

  /** Whether `fd` is an open fake fd. */
  isOpen(fd: number): boolean {
    return this.fds.has(fd);
  }

  /**
   * The file an open fd stands for: an fd passed over a channel arrives as a new number for the
   * same file, as with `SCM_RIGHTS`.
   */
  fileOf(fd: number): number | undefined {
    return this.fds.get(fd)?.file;
  }

  /** @internal */
  openFd(readiness: (interest: ReadyMask) => ReadyMask): number {
    return this.add(readiness, this.nextFile++);
  }

  /** @internal */
  receiveFile(file: number): number {
    return this.add(NEVER_READY, file);
  }

  /** @internal */
  touch(): void {
    this.changes++;
  }

  /**
   * @internal Binds `address` to `target`.
   * @throws {@link @pollux/core!index.IpcError} `EADDRINUSE` when something listens there already.
   */
  bind(address: string, target: ConnectionTarget): void {
    if (this.targets.has(address))
      throw new IpcError('EADDRINUSE', `listen on ${address} failed: another listener holds the address`);
    this.targets.set(address, target);
  }

  /** @internal Frees `address`. */
  unbind(address: string, target: ConnectionTarget): void {
    if (this.targets.get(address) === target) this.targets.delete(address);
  }

  /**
   * @internal Connects to `address` as a process with `credentials`, returning the client's end.
   * @throws {@link @pollux/core!index.IpcError} `ECONNREFUSED` when nothing listens there.
   */
  connect(address: string, credentials: Credentials): MemoryChannel {
    const target = this.targets.get(address);
    if (target === undefined)
      throw new IpcError('ECONNREFUSED', `connect to ${address} failed: nothing listens there; start the server first`);
    const client = new MemoryChannel(this, target.credentials, this.maxFdsPerWrite);
    const server = new MemoryChannel(this, credentials, this.maxFdsPerWrite);
    MemoryChannel.join(client, server, this.bufferSize);
    target.enqueue(server);
    this.touch();
    return client;
  }

  private add(readiness: (interest: ReadyMask) => ReadyMask, file: number): number {
    const fd = this.nextFd++;
    this.fds.set(fd, { readiness, file });
    this.touch();
    return fd;
  }
}

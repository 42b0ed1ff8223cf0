import { EventEmitter } from 'eventemitter3';
import type { Connection } from './connection.js';
import { EAGAIN, ECONNABORTED, IpcError } from './errors.js';
import { MAX_MESSAGE_SIZE_LIMIT } from './frame.js';
import type { Hello } from './handshake.js';
import { Ready, type Poller } from './poller.js';
import { ServiceRegistry, type RegisteredService } from './service-registry.js';
import type { ServiceDefinition } from './service.js';
import { ServerSession, type SessionHost } from './server-session.js';
import type { ServerStats } from './stats.js';
import type { Listener, Transport } from './transport.js';

/** Options of {@link IpcServer}. */
export interface IpcServerOptions {
  /** The event loop that drives accept and dispatch. */
  readonly poller: Poller;
  /** How clients reach the server (e.g. Unix sockets). */
  readonly transport: Transport;
  /** Largest request, response or event payload in bytes; clients may agree a smaller one. Default 1 MiB. */
  readonly maxMessageSize?: number;
  /** A client that has not completed its handshake this many ms after connecting is dropped. Default 5000. */
  readonly handshakeTimeout?: number;
  /**
   * Stop reading from a connection while more than this many bytes of its responses and events
   * wait to be written: a client that sends but never reads cannot grow the server's memory.
   * Default 4 MiB.
   */
  readonly sendQueueHighWater?: number;
}

/** Events of {@link IpcServer}. */
export interface IpcServerEvents {
  /** A service hook threw, or accepting failed; the server keeps running. */
  error: [error: IpcError];
  /** A client completed its handshake and its service's `created` hook ran. */
  connection: [connection: Connection<unknown>];
}

const ACCEPTS_PER_CALLBACK = 64;
const ACCEPT_RETRY_MS = 100;

/**
 * An IPC server hosting numbered services. Call {@link IpcServer.addService} for each service,
 * then {@link IpcServer.listen} on one or more addresses. The poller passed in drives it; the
 * server never blocks and owns no event loop.
 *
 * Service hooks that throw never take the server down: the error is emitted as `'error'` (or
 * printed as a process warning when nobody listens).
 */
export class IpcServer extends EventEmitter<IpcServerEvents> {
  /** Largest message payload this server agrees to. */
  readonly maxMessageSize: number;
  private readonly poller: Poller;
  private readonly transport: Transport;
  private readonly handshakeTimeout: number;
  private readonly sendQueueHighWater: number;
  private readonly registry = new ServiceRegistry();
  private readonly endpoints = new Map<number, Listener>();
  private readonly sessions = new Set<ServerSession>();
  private readonly acceptPaused = new Map<Listener, ReturnType<typeof setTimeout>>();
  private readonly host: SessionHost;
  private nextConnectionId = 1;
  private accepted = 0;
  private refused = 0;
  private protocolErrors = 0;
  private closing: Promise<void> | undefined;
  private lastSessionEnded: (() => void) | undefined;

  /**
   * @param options - the poller, the transport and limits
   * @throws {@link IpcError} `EINVAL` for an out-of-range option.
   */
  constructor(options: IpcServerOptions) {
    super();
    this.poller = options.poller;
    this.transport = options.transport;
    this.maxMessageSize = options.maxMessageSize ?? 1024 * 1024;
    this.handshakeTimeout = options.handshakeTimeout ?? 5000;
    this.sendQueueHighWater = options.sendQueueHighWater ?? 4 * 1024 * 1024;
    if (!Number.isInteger(this.maxMessageSize) || this.maxMessageSize < 1 || this.maxMessageSize > MAX_MESSAGE_SIZE_LIMIT) {
      throw new IpcError('EINVAL', `maxMessageSize must be an integer in 1–${MAX_MESSAGE_SIZE_LIMIT}`);
    }
    this.host = {
      maxMessageSize: this.maxMessageSize,
      findService: (hello: Hello) => this.registry.find(hello),
      sessionOpened: (session, service) => this.sessionOpened(session, service),
      sessionEnded: (session, error, protocolError) => this.sessionEnded(session, error, protocolError),
      announce: (session) => {
        try {
          this.emit('connection', session.connection!);
        } catch (error) {
          this.reportError(IpcError.from(error, 'EREMOTEIO'), "a 'connection' listener threw");
        }
      },
      reportHookError: (hook, error) => this.reportError(IpcError.from(error, 'EREMOTEIO'), `service hook "${hook}" threw`),
    };
  }

  /**
   * Registers a service. Services may be added before or after {@link IpcServer.listen}.
   *
   * @throws {@link IpcError} `EEXIST` for a duplicate id or name, `EINVAL` for a bad definition.
   */
  addService<Context>(definition: ServiceDefinition<Context>): void {
    this.registry.add(definition as ServiceDefinition<unknown>);
  }

  /**
   * Starts accepting clients on `address` (its meaning is the transport's, e.g. a socket path).
   * May be called for several addresses.
   *
   * @throws {@link IpcError} `EADDRINUSE` when another server holds the address, or the errno
   * of the failing step; `ESHUTDOWN` after {@link IpcServer.close}.
   */
  async listen(address: string): Promise<void> {
    if (this.closing) throw new IpcError('ESHUTDOWN', 'server is closed: make a new IpcServer');
    const listener = this.transport.listen(address);
    try {
      this.poller.add(listener.fd, Ready.Readable, (_fd, ready) => this.acceptClients(listener, ready));
    } catch (error) {
      listener.close();
      throw IpcError.from(error, 'EIO');
    }
    this.endpoints.set(listener.fd, listener);
  }

  /** The addresses the server listens on. */
  get addresses(): string[] {
    return [...this.endpoints.values()].map((listener) => listener.address);
  }

  /** A snapshot of the counters: server-wide and per service. */
  stats(): ServerStats {
    return {
      connections: this.sessions.size,
      accepted: this.accepted,
      refused: this.refused,
      protocolErrors: this.protocolErrors,
      services: [...this.registry.all()].map((service) => {
        const snapshot = { ...service.stats };
        // Closed sessions' bytes are folded into the service; live ones are added here.
        for (const session of this.sessions) {
          if (session.service !== service) continue;
          snapshot.bytesIn += session.stats.bytesIn;
          snapshot.bytesOut += session.stats.bytesOut;
        }
        return snapshot;
      }),
    };
  }

  /**
   * Stops accepting, closes every connection (each service's `closed` hook runs) and releases
   * the addresses. Each connection gets a goodbye and up to 2 s to take what was queued for it.
   * Resolves once every connection has ended. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const listener of this.endpoints.values()) {
      clearTimeout(this.acceptPaused.get(listener));
      this.poller.remove(listener.fd);
      listener.close();
    }
    this.endpoints.clear();
    this.acceptPaused.clear();
    if (this.sessions.size === 0) return;
    const allEnded = new Promise<void>((resolve) => {
      this.lastSessionEnded = resolve;
    });
    for (const session of [...this.sessions]) session.close();
    await allEnded;
  }

  private acceptClients(listener: Listener, ready: number): void {
    if (!(ready & Ready.Readable) || this.closing) return;
    for (let i = 0; i < ACCEPTS_PER_CALLBACK; i++) {
      const channel = listener.accept();
      if (typeof channel === 'number') {
        if (channel === EAGAIN) return;
        if (channel === ECONNABORTED) continue;
        this.pauseAccepting(listener, IpcError.fromErrno(channel, `accept on ${listener.address}`));
        return;
      }
      try {
        const session = new ServerSession(this.nextConnectionId++, channel, this.poller, this.host, this.handshakeTimeout, this.sendQueueHighWater);
        this.sessions.add(session);
      } catch (error) {
        channel.close();
        this.reportError(IpcError.from(error, 'EIO'), 'setting up a client connection failed');
      }
    }
  }

  /**
   * Out of fds or memory, the pending connection stays queued and the listener stays readable:
   * a level-triggered loop would spin. Stop watching it until a session ends or a moment passed.
   */
  private pauseAccepting(listener: Listener, error: IpcError): void {
    if (this.acceptPaused.has(listener)) return;
    this.reportError(error, 'accepting a client failed; accepting paused until a connection closes');
    this.poller.modify(listener.fd, 0);
    const timer = setTimeout(() => this.resumeAccepting(listener), ACCEPT_RETRY_MS);
    timer.unref?.();
    this.acceptPaused.set(listener, timer);
  }

  private resumeAccepting(listener: Listener): void {
    const timer = this.acceptPaused.get(listener);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.acceptPaused.delete(listener);
    if (this.endpoints.has(listener.fd)) this.poller.modify(listener.fd, Ready.Readable);
  }

  private sessionOpened(session: ServerSession, service: RegisteredService | undefined): void {
    if (service === undefined) {
      this.refused++;
      return;
    }
    this.accepted++;
    service.stats.accepted++;
    service.stats.connections++;
  }

  private sessionEnded(session: ServerSession, _error: IpcError, protocolError: boolean): void {
    this.sessions.delete(session);
    if (this.sessions.size === 0) this.lastSessionEnded?.();
    for (const listener of this.acceptPaused.keys()) this.resumeAccepting(listener);
    const service = session.service;
    if (protocolError) this.protocolErrors++;
    if (service === undefined) return;
    service.stats.connections--;
    service.stats.closed++;
    service.stats.bytesIn += session.stats.bytesIn;
    service.stats.bytesOut += session.stats.bytesOut;
    if (protocolError) service.stats.protocolErrors++;
  }

  private reportError(error: IpcError, context: string): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
    } else {
      process.emitWarning(`pollux server: ${context}: ${error.code}: ${error.message}`, 'IpcServerWarning');
    }
  }
}

// IpcServer: listens, accepts, hosts services and owns the server-wide limits (server layer).
import { EventEmitter } from 'node:events';
import type { Connection } from './connection.js';
import { EAGAIN, ECONNABORTED, IpcError } from '../errors.js';
import { safeString } from '../describe-value.js';
import { DEFAULT_MAX_MESSAGE_SIZE, FrameKind, HEADER_SIZE, writeHeader } from '../protocol/frame.js';
import { encodeError, type Hello } from '../protocol/handshake.js';
import { HostedService } from './hosted-service.js';
import { atLeast, checkPoller, duration, fdCount, messageSize, oneOf, positiveLimit } from '../option-checks.js';
import { introspectionService, type IntrospectionOptions } from './introspection-service.js';
import { Ready, type Poller, type Timer } from '../contracts/poller.js';
import { checkRateLimit, TokenBucket, type RateLimit } from './rate-limit.js';
import { ServerLoad } from './server-load.js';
import { ServiceRegistry, type RegisteredService } from './service-registry.js';
import type { CommandHandler, HandlerFailure, ServiceDefinition } from './service.js';
import { ServerSession, type EventQueueFullPolicy, type SessionHost, type SessionSettings } from './server-session.js';
import { addTraffic, type ConnectionInfo, type ServerStats, type ServiceStats } from '../stats.js';
import type { Channel, Listener, Transport } from '../contracts/transport.js';

/** Options of {@link IpcServer}. */
export interface IpcServerOptions {
  /** The event loop that drives accept and dispatch. */
  readonly poller: Poller;
  /** How clients reach the server (e.g. Unix sockets). */
  readonly transport: Transport;
  /** Largest request, response or event payload in bytes; clients may agree a smaller one. Default 1 MiB. */
  readonly maxMessageSize?: number;
  /**
   * The most fds (`SCM_RIGHTS`) one request from a client may carry, 0–253. Default 0: clients
   * pass none, and a request that says it carries any breaks the protocol and closes its
   * connection (counted as a protocol error). Each fd a client sends holds a slot of this
   * process's fd table until the handler takes it or returns, so allow what the services need.
   */
  readonly maxFdsPerMessage?: number;
  /** A client that has not completed its handshake this many ms after connecting is dropped. Default 5000. */
  readonly handshakeTimeout?: number;
  /**
   * Most connections open at once, handshaking ones included. A client over the cap is refused
   * at its handshake with `EAGAIN`. Default 4096.
   */
  readonly maxConnections?: number;
  /**
   * Most connections one uid may hold open at once, handshaking ones included, so that one local
   * user cannot take every slot of `maxConnections` from the others. A client over it is refused
   * at its handshake with `EAGAIN`. Default: no limit of its own.
   */
  readonly maxConnectionsPerUid?: number;
  /**
   * Stop reading from a connection while more than this many bytes of its responses and events
   * wait to be written: a client that sends but never reads cannot grow the server's memory.
   * Default 4 MiB.
   */
  readonly sendQueueHighWater?: number;
  /**
   * Bytes that may wait to be written to one connection before {@link Connection.sendEvent} hits
   * `onEventQueueFull`. Default twice `sendQueueHighWater`.
   */
  readonly eventQueueLimit?: number;
  /**
   * At `eventQueueLimit`: `'reject'` throws `EAGAIN` from `sendEvent` so the service can retry or
   * skip; `'disconnect'` drops that client (its `closed` hook sees `ENOBUFS`, the server emits
   * `'slowConsumer'`). Default `'reject'`.
   */
  readonly onEventQueueFull?: EventQueueFullPolicy;
  /**
   * Stop reading a connection's requests while this many of its asynchronous handlers run;
   * resume as they settle. Default 1024.
   */
  readonly maxInFlightPerConnection?: number;
  /**
   * The same, over all connections of the server. Only the connections that meet the limit stop
   * reading; they are woken in turn as handlers settle. Default: no limit.
   */
  readonly maxInFlight?: number;
  /**
   * Bytes one connection may make the server hold: its requests read and not yet parsed, the
   * payloads of its running asynchronous handlers, and its responses and events waiting to be
   * written. Reading it stops while its running requests and queued output fill half of this
   * (the other half is room for the request being read) and resumes when they are down to a
   * quarter; kernel buffers then hold the client back. Nothing admitted is dropped.
   * At least twice `maxMessageSize` plus headers. Default: four times `maxMessageSize`, at least 1 MiB.
   */
  readonly maxBufferedBytesPerConnection?: number;
  /**
   * Bytes all connections together may make the server hold beyond 64 KiB each, counted as for
   * `maxBufferedBytesPerConnection`. At the budget, connections stop reading as they come to
   * their next request, and are woken in turn once the total is down to three quarters; a
   * request already read, or with room already set aside for it, still goes to its handler. A
   * connection's first 64 KiB are its own: one holding less is still served, so one client cannot
   * lock the others out, and connections left holding the start of a request never keep the
   * budget shut. Beyond them, room for a request is set aside whole while the budget has room,
   * never in part. The server's buffered bytes stay under this budget plus 64 KiB per connection
   * plus the read that crosses it (one request of `maxMessageSize`, and up to 256 KiB of smaller
   * requests read with it), plus responses larger than the requests they answer.
   * At least `maxBufferedBytesPerConnection`. Default 256 MiB, or `maxBufferedBytesPerConnection`
   * when that is more.
   */
  readonly maxBufferedBytes?: number;
  /** Each connection's request rate; over it, reading that connection waits. Default: no limit. */
  readonly requestRate?: RateLimit;
  /**
   * The whole server's request rate; over it, connections stop reading as they come to their next
   * request, and are woken in turn once half the burst is back. Default: no limit.
   */
  readonly serverRequestRate?: RateLimit;
  /**
   * Serve the built-in introspection service (id {@link INTROSPECTION_SERVICE_ID}), which answers
   * this server's stats and connection list over the wire. Default off.
   */
  readonly introspection?: boolean | IntrospectionOptions;
  /**
   * Once this many ms passed with no client connected, the server does `idleAction`: for a
   * service started on demand that should go away when nobody uses it. The wait starts when the
   * last client leaves, and at {@link IpcServer.listen} while no client is connected; a client
   * that connects meanwhile (handshaking counts) cancels it. After going idle the server waits
   * for a client to come and leave again. The timer never keeps the process alive on its own.
   * Default: never idle.
   */
  readonly idleTimeout?: number;
  /**
   * What the server does after `idleTimeout`: `'emit'` emits `'idle'` and keeps listening;
   * `'close'` emits `'idle'`, then closes itself as {@link IpcServer.close} does, releasing its
   * addresses. Default `'emit'`.
   */
  readonly idleAction?: IdleAction;
}

/** What an {@link IpcServer} does once it has been without clients for its `idleTimeout`. */
export type IdleAction = 'emit' | 'close';

/** Options of {@link IpcServer.close}. */
export interface IpcServerCloseOptions {
  /**
   * How long running handlers may take to finish before their connections are closed anyway.
   * Default 5000 ms. Each connection then gets up to 2 s more to take what was queued for it.
   */
  readonly timeout?: number;
}

/** Events of {@link IpcServer}. */
export interface IpcServerEvents {
  /** A service hook threw, or accepting failed; the server keeps running. */
  error: [error: IpcError];
  /** A client completed its handshake and its service's `created` hook ran. */
  connection: [connection: Connection<unknown>];
  /** A connection was dropped because it did not read its events (`onEventQueueFull: 'disconnect'`). */
  slowConsumer: [connection: Connection<unknown>, reason: IpcError];
  /**
   * A command handler failed: it threw or rejected with something other than an `IpcError`, or
   * answered what cannot be sent (see {@link CommandHandler}). Without a listener the server
   * prints a process warning, once per service and command, and counts every failure in
   * `stats().services[].handlerFailures`.
   */
  handlerError: [failure: HandlerFailure];
  /**
   * No client has been connected for `idleTimeout` ms (see {@link IpcServerOptions.idleTimeout});
   * with `idleAction: 'close'` the server closes right after.
   */
  idle: [];
  /**
   * {@link IpcServer.listen} on `address` completed: clients can connect there. A listener that
   * throws does not undo it: the error is emitted as `'error'`.
   */
  listening: [address: string];
  /**
   * {@link IpcServer.close} or {@link IpcServer.destroy} began (also after `idleAction: 'close'`):
   * no client is accepted from now on. Emitted once, before the addresses are released.
   */
  closing: [];
}

const ACCEPT_RETRY_MS = 100;
/**
 * Refused connections kept until their hello, to be told why in turn; beyond these, a refusal is
 * written at once and the connection closed, which a client that sent its hello already still reads.
 */
const REFUSING_MAX = 64;

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
  private readonly settings: SessionSettings;
  private readonly maxConnections: number;
  private readonly maxConnectionsPerUid: number;
  private readonly load: ServerLoad;
  private readonly registry = new ServiceRegistry();
  private readonly endpoints = new Map<number, Listener>();
  private readonly sessions = new Set<ServerSession>();
  private readonly acceptPaused = new Map<Listener, Timer>();
  private readonly host: SessionHost;
  /** Sessions holding a slot (not being refused), by their peer's uid; kept only with a per-uid cap. */
  private readonly slotsByUid = new Map<number, number>();
  /** Sessions holding a slot of `maxConnections`. */
  private slotsTaken = 0;
  /** Sessions waiting for their hello to be refused. */
  private refusing = 0;
  private nextConnectionId = 1;
  private refused = 0;
  private refusedOverCapacity = 0;
  private closed = 0;
  private protocolErrors = 0;
  private closing: Promise<void> | undefined;
  /** Services and commands whose handler failure was printed as a warning, for want of a listener. */
  private readonly warnedHandlerFailures = new Set<number>();
  private lastSessionEnded: (() => void) | undefined;
  private readonly idleTimeout: number | undefined;
  private readonly idleAction: IdleAction;
  private idleTimer: Timer | undefined;

  /**
   * @param options - the poller, the transport and limits
   * @throws {@link IpcError} `EINVAL` for an out-of-range option.
   */
  constructor(options: IpcServerOptions) {
    super();
    this.poller = checkPoller(options.poller);
    this.transport = options.transport;
    this.idleTimeout = options.idleTimeout === undefined ? undefined : duration('idleTimeout', options.idleTimeout);
    this.idleAction = oneOf('idleAction', options.idleAction ?? 'emit', ['emit', 'close']);
    this.maxMessageSize = messageSize(options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE);
    const outputHighWater = positiveLimit('sendQueueHighWater', options.sendQueueHighWater ?? 4 * 1024 * 1024);
    const largestFrame = HEADER_SIZE + this.maxMessageSize;
    const maxBufferedBytes = atLeast(
      'maxBufferedBytesPerConnection',
      options.maxBufferedBytesPerConnection ?? Math.max(1024 * 1024, 4 * this.maxMessageSize),
      2 * largestFrame,
      'twice the largest frame (maxMessageSize plus its 12-byte header)',
    );
    if (options.requestRate !== undefined) checkRateLimit(options.requestRate, 'requestRate');
    this.maxConnections = positiveLimit('maxConnections', options.maxConnections ?? 4096);
    this.maxConnectionsPerUid = positiveLimit(
      'maxConnectionsPerUid',
      options.maxConnectionsPerUid ?? Number.POSITIVE_INFINITY,
    );
    const bucket =
      options.serverRequestRate === undefined
        ? undefined
        : new TokenBucket(options.serverRequestRate, 'serverRequestRate', () => this.poller.now());
    this.load = new ServerLoad(
      this.poller,
      positiveLimit('maxInFlight', options.maxInFlight ?? Number.POSITIVE_INFINITY),
      atLeast(
        'maxBufferedBytes',
        options.maxBufferedBytes ?? Math.max(256 * 1024 * 1024, maxBufferedBytes),
        maxBufferedBytes,
        'maxBufferedBytesPerConnection',
      ),
      bucket,
    );
    this.settings = {
      handshakeTimeout: duration('handshakeTimeout', options.handshakeTimeout ?? 5000),
      outputHighWater,
      eventQueueLimit: positiveLimit('eventQueueLimit', options.eventQueueLimit ?? outputHighWater * 2),
      onEventQueueFull: oneOf('onEventQueueFull', options.onEventQueueFull ?? 'reject', ['reject', 'disconnect']),
      maxInFlight: positiveLimit('maxInFlightPerConnection', options.maxInFlightPerConnection ?? 1024),
      requestRate: options.requestRate,
      maxBufferedBytes,
      maxMessageSize: this.maxMessageSize,
      maxFds: fdCount('maxFdsPerMessage', options.maxFdsPerMessage ?? 0),
      load: this.load,
      limitsRequests: bucket !== undefined,
    };
    this.host = {
      findService: (hello: Hello) => this.registry.find(hello),
      opened: (session) => {
        try {
          this.emit('connection', session.connection!);
        } catch (error) {
          this.reportError(IpcError.from(error, 'EREMOTEIO'), "a 'connection' listener threw");
        }
      },
      refused: () => {
        this.refused++;
      },
      ended: (session, protocolError) => this.sessionEnded(session, protocolError),
      droppedSlowConsumer: (session, error) => {
        try {
          this.emit('slowConsumer', session.connection!, error);
        } catch (listenerError) {
          // The slow client is dropped all the same: a listener's bug must not keep it.
          this.reportError(IpcError.from(listenerError, 'EREMOTEIO'), "a 'slowConsumer' listener threw");
        }
      },
      hookFailed: (hook, error) => this.reportError(IpcError.from(error, 'EREMOTEIO'), `service hook "${hook}" threw`),
      handlerFailed: (session, command, error) => this.reportHandlerFailure(session, command, error),
    };
    if (options.introspection !== undefined && options.introspection !== false) {
      this.registry.add(
        introspectionService(
          this,
          options.introspection === true ? {} : options.introspection,
        ) as ServiceDefinition<unknown>,
      );
    }
  }

  /**
   * Registers a service. Services may be added before or after {@link IpcServer.listen}.
   *
   * @returns the handle to broadcast to the service's connections
   * @throws {@link IpcError} `EEXIST` for a duplicate id or name, `EINVAL` for a bad definition.
   */
  addService<Context>(definition: ServiceDefinition<Context>): HostedService<Context> {
    return new HostedService<Context>(this.registry.add(definition as ServiceDefinition<unknown>));
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
      this.poller.add(listener.fd, Ready.Readable, (_fd, ready) => this.acceptClient(listener, ready));
    } catch (error) {
      listener.close();
      throw IpcError.from(error, 'EIO');
    }
    this.endpoints.set(listener.fd, listener);
    this.awaitIdle();
    try {
      this.emit('listening', listener.address);
    } catch (error) {
      this.reportError(IpcError.from(error, 'EREMOTEIO'), "a 'listening' listener threw");
    }
  }

  /** The addresses the server listens on. */
  get addresses(): string[] {
    return [...this.endpoints.values()].map((listener) => listener.address);
  }

  /**
   * Stops reading requests from every connection, for a service that must push back under load;
   * kernel buffers fill and clients' writes wait. Events and responses still go out, new clients
   * still complete their handshake, and a client that dies meanwhile is still noticed at once.
   * Idempotent.
   */
  pauseRequests(): void {
    this.load.pause(true);
  }

  /** Undoes {@link IpcServer.pauseRequests}. */
  resumeRequests(): void {
    this.load.pause(false);
  }

  /** A snapshot of the counters: server-wide and per service. */
  stats(): ServerStats {
    const services = new Map<RegisteredService, ServiceStats>();
    for (const service of this.registry.all()) services.set(service, { ...service.stats });
    for (const session of this.sessions) {
      const snapshot = session.service === undefined ? undefined : services.get(session.service);
      if (snapshot === undefined) continue;
      addTraffic(snapshot, session.counters);
      snapshot.queuedBytes += session.queuedBytes;
      snapshot.inFlight += session.inFlight;
    }
    return {
      connections: this.sessions.size,
      accepted: this.registry.acceptedTotal(),
      refused: this.refused,
      refusedOverCapacity: this.refusedOverCapacity,
      closed: this.closed,
      protocolErrors: this.protocolErrors,
      inFlight: this.load.inFlight,
      readPaused: this.load.isShut,
      services: [...services.values()],
    };
  }

  /** The connections that completed their handshake and are open now, with their counters. */
  connections(): ConnectionInfo[] {
    const list: ConnectionInfo[] = [];
    for (const session of this.sessions) {
      const connection = session.connection;
      if (connection === undefined || !session.isOpen) continue;
      list.push({
        id: session.id,
        serviceId: session.service!.definition.id,
        credentials: connection.credentials,
        stats: session.stats,
      });
    }
    return list;
  }

  /**
   * Closes gracefully: stops accepting and reading requests, lets running handlers answer for up
   * to `timeout`, then says goodbye to every connection (clients see `ESHUTDOWN`, an orderly
   * close) and releases the addresses. Each service's `closed` hook runs. Resolves once every
   * connection has ended. Idempotent: later calls return the first call's promise.
   */
  close(options: IpcServerCloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(duration('timeout', options.timeout ?? 5000));
    return this.closing;
  }

  /**
   * Closes now: stops accepting and ends every connection at once, writing nothing more to any of
   * them (running handlers' results and queued frames are dropped; clients see the connection
   * reset, as if this process had died, and their pending requests reject with `ECONNRESET`). Each
   * service's `closed` hook runs. Resolves once every connection has ended, which is before this
   * returns. Idempotent, and cuts short a {@link IpcServer.close} in progress.
   */
  destroy(): Promise<void> {
    this.closing ??= this.shutdown(undefined);
    const reason = new IpcError('ECONNABORTED', 'server destroyed the connection');
    for (const session of [...this.sessions]) session.destroy(reason);
    return this.closing;
  }

  /** {@link IpcServer.close} with its defaults, for `await using server = …`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Stops accepting and waits for every session to end: closed gracefully with `timeout` to let
   * running handlers answer, or, undefined, destroyed by {@link IpcServer.destroy}.
   */
  private async shutdown(timeout: number | undefined): Promise<void> {
    try {
      this.emit('closing');
    } catch (error) {
      this.reportError(IpcError.from(error, 'EREMOTEIO'), "a 'closing' listener threw");
    }
    this.cancelIdle();
    for (const listener of this.endpoints.values()) {
      this.acceptPaused.get(listener)?.cancel();
      this.poller.remove(listener.fd);
      listener.close();
    }
    this.endpoints.clear();
    this.acceptPaused.clear();
    this.load.stop();
    if (this.sessions.size === 0) return;
    const allEnded = new Promise<void>((resolve) => {
      this.lastSessionEnded = resolve;
    });
    if (timeout !== undefined) for (const session of [...this.sessions]) session.close(timeout);
    await allEnded;
  }

  /**
   * Accepts one client per readiness callback, as libuv does for Node's own servers: the poller is
   * level-triggered and calls again while more wait, so a client that connects alone costs no
   * accept that finds the queue empty (`EAGAIN`), and clients already connected are served
   * between the accepts of a burst.
   */
  private acceptClient(listener: Listener, ready: number): void {
    // Once close() began no client is accepted; becomeIdle calls here too, outside any readiness.
    if (!(ready & Ready.Readable) || this.closing) return;
    let channel = listener.accept();
    // A connection the transport could not set up, closed already: the next may wait behind it.
    while (channel === ECONNABORTED) channel = listener.accept();
    if (typeof channel === 'number') {
      if (channel !== EAGAIN)
        this.pauseAccepting(listener, IpcError.fromErrno(channel, `accept on ${listener.address}`));
      return;
    }
    // Its hello, and often its first requests, came with the connect: served in this turn.
    this.admit(channel)?.readNow();
  }

  /**
   * Serves a client over `channel`, a connection made elsewhere instead of accepted here: one end
   * of a socketpair a parent created (`SocketTransport.adopt`, or `spawnWithChannel` in the
   * `pollux` package). It goes through the handshake, the connection limits and every hook like
   * an accepted one. The server owns the channel from this call on, and closes it when the
   * client goes.
   *
   * @param channel - a connected channel; its credentials say who the client is
   * @throws {@link IpcError} `ESHUTDOWN` after {@link IpcServer.close} (the channel is closed).
   */
  adopt(channel: Channel): void {
    if (this.closing) {
      channel.close();
      throw new IpcError('ESHUTDOWN', 'server is closed, so it cannot adopt a connection: make a new IpcServer');
    }
    this.admit(channel);
  }

  /**
   * Starts a session for a new connection, or turns it away when the server is full.
   *
   * @returns the session, or undefined when the connection was turned away at once
   */
  private admit(channel: Channel): ServerSession | undefined {
    const refusal = this.refusalFor(channel);
    if (refusal !== undefined) {
      this.refusedOverCapacity++;
      if (this.refusing >= REFUSING_MAX) {
        this.refuseAtOnce(channel, refusal);
        return undefined;
      }
    }
    try {
      const session = new ServerSession(
        this.nextConnectionId++,
        channel,
        this.poller,
        this.host,
        this.settings,
        refusal,
      );
      this.sessions.add(session);
      this.cancelIdle();
      if (refusal !== undefined) this.refusing++;
      else this.takeSlot(session);
      return session;
    } catch (error) {
      channel.close();
      this.reportError(IpcError.from(error, 'EIO'), 'setting up a client connection failed');
      return undefined;
    }
  }

  /** Why a new connection must be turned away: the server or its peer's uid is at its cap. */
  private refusalFor(channel: Channel): string | undefined {
    if (this.slotsTaken >= this.maxConnections)
      return `server has reached its limit of ${this.maxConnections} connections: try again later`;
    if (this.maxConnectionsPerUid === Number.POSITIVE_INFINITY) return undefined;
    const uid = channel.credentials.uid;
    if ((this.slotsByUid.get(uid) ?? 0) < this.maxConnectionsPerUid) return undefined;
    return `uid ${uid} has reached this server's limit of ${this.maxConnectionsPerUid} connections per user: close one or try again later`;
  }

  private takeSlot(session: ServerSession): void {
    this.slotsTaken++;
    if (this.maxConnectionsPerUid === Number.POSITIVE_INFINITY) return;
    const uid = session.peer.uid;
    this.slotsByUid.set(uid, (this.slotsByUid.get(uid) ?? 0) + 1);
  }

  private releaseSlot(session: ServerSession): void {
    if (session.refusal !== undefined) {
      this.refusing--;
      return;
    }
    this.slotsTaken--;
    if (this.maxConnectionsPerUid === Number.POSITIVE_INFINITY) return;
    const uid = session.peer.uid;
    const left = this.slotsByUid.get(uid)! - 1;
    if (left === 0) this.slotsByUid.delete(uid);
    else this.slotsByUid.set(uid, left);
  }

  /**
   * Writes the refusal into the fresh socket (whose buffer takes so small a frame whole) and
   * closes it, without waiting for the hello: what a refusal costs beyond the waiting ones.
   */
  private refuseAtOnce(channel: Channel, message: string): void {
    this.refused++;
    const payload = encodeError('EAGAIN', message);
    const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
    writeHeader(frame, 0, payload.length, FrameKind.Refuse, 0, 0, 0);
    payload.copy(frame, HEADER_SIZE);
    channel.writev([frame], 1);
    channel.close();
  }

  /**
   * Out of fds or memory, the pending connection stays queued and the listener stays readable:
   * a level-triggered loop would spin. Stop watching it until a session ends or a moment passed.
   */
  private pauseAccepting(listener: Listener, error: IpcError): void {
    if (this.acceptPaused.has(listener)) return;
    this.reportError(error, 'accepting a client failed; accepting paused until a connection closes');
    this.poller.modify(listener.fd, 0);
    this.acceptPaused.set(
      listener,
      this.poller.timer(ACCEPT_RETRY_MS, () => this.resumeAccepting(listener)),
    );
  }

  private resumeAccepting(listener: Listener): void {
    const timer = this.acceptPaused.get(listener);
    if (timer === undefined) return;
    timer.cancel();
    this.acceptPaused.delete(listener);
    if (this.endpoints.has(listener.fd)) this.poller.modify(listener.fd, Ready.Readable);
  }

  private sessionEnded(session: ServerSession, protocolError: boolean): void {
    this.sessions.delete(session);
    this.releaseSlot(session);
    this.closed++;
    if (protocolError) this.protocolErrors++;
    if (this.sessions.size === 0) {
      this.lastSessionEnded?.();
      this.awaitIdle();
    }
    for (const listener of this.acceptPaused.keys()) this.resumeAccepting(listener);
  }

  /** Starts the idle wait, if the server has one and nothing holds it off. */
  private awaitIdle(): void {
    if (this.idleTimeout === undefined || this.idleTimer !== undefined) return;
    if (this.closing !== undefined || this.sessions.size > 0) return;
    this.idleTimer = this.poller.timer(this.idleTimeout, () => this.becomeIdle());
  }

  private cancelIdle(): void {
    this.idleTimer?.cancel();
    this.idleTimer = undefined;
  }

  private becomeIdle(): void {
    this.idleTimer = undefined;
    // A client waiting to be accepted is a client: the timer can fire in the same turn of the
    // loop as the readiness that would have announced it, and going idle would reset it.
    for (const listener of this.endpoints.values()) this.acceptClient(listener, Ready.Readable);
    // Accepting ran hooks and handlers: one may have closed the server, or a connection served
    // and ended there started the idle wait anew.
    if (this.sessions.size > 0 || this.closing !== undefined || this.idleTimer !== undefined) return;
    try {
      this.emit('idle');
    } catch (error) {
      this.reportError(IpcError.from(error, 'EREMOTEIO'), "an 'idle' listener threw");
    }
    if (this.idleAction === 'close') void this.close();
  }

  private reportHandlerFailure(session: ServerSession, command: number, error: unknown): void {
    const service = session.service!;
    const { id: serviceId, name: serviceName } = service.definition;
    if (this.listenerCount('handlerError') > 0) {
      try {
        this.emit('handlerError', { error, serviceId, serviceName, command, connection: session.connection! });
      } catch (listenerError) {
        this.reportError(IpcError.from(listenerError, 'EREMOTEIO'), "a 'handlerError' listener threw");
      }
      return;
    }
    const key = serviceId * 0x10000 + command;
    if (this.warnedHandlerFailures.has(key)) return;
    this.warnedHandlerFailures.add(key);
    const detail = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : safeString(error);
    process.emitWarning(
      `pollux server: handler of command ${command} of service "${serviceName}" failed (connection ${session.id}); ` +
        `listen for 'handlerError' to see every failure, later ones of this command are only counted: ${detail}`,
      'IpcServerWarning',
    );
  }

  private reportError(error: IpcError, context: string): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', error);
    } else {
      process.emitWarning(`pollux server: ${context}: ${error.code}: ${error.message}`, 'IpcServerWarning');
    }
  }
}

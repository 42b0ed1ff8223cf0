// ServerSession: one accepted connection, from handshake to close (server layer).
import { Connection, type ConnectionSession } from './connection.js';
import { IpcError } from '../errors.js';
import { FramedChannel, ReadBlock } from '../link/framed-channel.js';
import { FrameKind } from '../protocol/frame.js';
import { describeValue } from '../describe-value.js';
import { checkEvent } from '../option-checks.js';
import {
  decodeHello,
  encodeError,
  encodeGoodbye,
  encodeWelcome,
  PROTOCOL_VERSION,
  type Hello,
} from '../protocol/handshake.js';
import type { Poller } from '../contracts/poller.js';
import { TokenBucket, type RateLimit } from './rate-limit.js';
import type { GateWaiter, ServerLoad } from './server-load.js';
import { GUARANTEED_BYTES } from './server-load.js';
import type { RegisteredService } from './service-registry.js';
import { newTrafficStats, type ConnectionStats, type TrafficStats } from '../stats.js';
import type { Channel, Credentials } from '../contracts/transport.js';

/** What to do with an event for a client whose queue is over its bound. */
export type EventQueueFullPolicy = 'reject' | 'disconnect';

/** The per-connection limits, fixed by the server's options. */
export interface SessionLimits {
  readonly handshakeTimeout: number;
  readonly outputHighWater: number;
  readonly eventQueueLimit: number;
  readonly onEventQueueFull: EventQueueFullPolicy;
  readonly maxInFlight: number;
  readonly requestRate: RateLimit | undefined;
  /** `maxBufferedBytesPerConnection`: half for admitted work, half for the frame being read. */
  readonly maxBufferedBytes: number;
}

/** What a session needs from its server. */
export interface SessionHost {
  readonly maxMessageSize: number;
  /** The server-wide gate every request passes. */
  readonly load: ServerLoad;
  /** Whether the server counts each request against a server-wide rate. */
  readonly limitsRequests: boolean;
  findService(hello: Hello): RegisteredService | undefined;
  /** A session finished its handshake (`service` set) or was turned away (`service` undefined). */
  sessionOpened(session: ServerSession, service: RegisteredService | undefined): void;
  /** A session ended. */
  sessionEnded(session: ServerSession, error: IpcError, protocolError: boolean): void;
  /** A session is open and its `created` hook has run: tell the application. */
  announce(session: ServerSession): void;
  /** A connection was dropped because it did not read its events. */
  slowConsumerDropped(session: ServerSession, error: IpcError): void;
  reportHookError(hook: string, error: unknown): void;
  /** A handler threw something other than an IpcError, or answered what cannot be sent. */
  reportHandlerFailure(session: ServerSession, command: number, error: unknown): void;
}

/** A session's own reasons to stop reading, beside the channel's. */
const SessionBlock = {
  /** `maxInFlightPerConnection` handlers of this connection are running. */
  Busy: ReadBlock.Subclass,
  /** This connection's request rate ran out. */
  Throttled: ReadBlock.Subclass << 1,
  /** The service paused this connection. */
  Paused: ReadBlock.Subclass << 2,
  /** This session waits at the server's gate: its limits, its rate, its budget or a pause. */
  Server: ReadBlock.Subclass << 3,
  /** A graceful server close waits for running handlers. */
  Draining: ReadBlock.Subclass << 4,
  /** This connection's requests running and output queued fill half its byte budget. */
  Budget: ReadBlock.Subclass << 5,
} as const;

const EMPTY = new Uint8Array(0);

/**
 * One accepted client connection on the server: handshake, request dispatch, events, limits,
 * and the exactly-once `closed` / `destroyed` hooks.
 */
export class ServerSession extends FramedChannel implements ConnectionSession, GateWaiter {
  readonly id: number;
  readonly counters: TrafficStats = newTrafficStats();
  protected readonly traffic = this.counters;
  service: RegisteredService | undefined;
  connection: Connection<unknown> | undefined;
  private readonly host: SessionHost;
  private readonly limits: SessionLimits;
  private readonly bucket: TokenBucket | undefined;
  private readonly load: ServerLoad;
  private maxMessage = 0;
  private running = 0;
  /** Payload bytes of the requests whose asynchronous handlers run. */
  private runningBytes = 0;
  /** The bytes this session last added to the server's total. */
  private countedBytes = 0;
  /** Woken at the gate and no request admitted since: the room it was woken for is unused. */
  private wokenIdle = false;
  /** Gives the room back if this session cannot use it: it ended or stopped for its own reasons. */
  private readonly afterWake = (): void => {
    if (this.ended || this.isReadBlocked(~0)) this.wakeDone();
  };
  private closedHookRan = false;
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  private throttleTimer: ReturnType<typeof setTimeout> | undefined;
  /** An event was refused with `EAGAIN`: tell the service once the queue has room again. */
  private owesDrained = false;

  /**
   * @param refusal - why the server turns this client away (`EAGAIN`, at its hello), or undefined.
   */
  constructor(
    id: number,
    channel: Channel,
    poller: Poller,
    host: SessionHost,
    limits: SessionLimits,
    readonly refusal: string | undefined,
  ) {
    // Until the hello is in, only control frames are legal, so the decoder limit is tiny.
    super(channel, poller, 0, limits.outputHighWater);
    this.id = id;
    this.host = host;
    this.limits = limits;
    this.load = host.load;
    this.bucket = limits.requestRate === undefined ? undefined : new TokenBucket(limits.requestRate, 'requestRate');
    this.startPolling();
    this.handshakeTimer = setTimeout(() => {
      this.end(new IpcError('ETIMEDOUT', `client sent no complete handshake within ${limits.handshakeTimeout} ms`));
    }, limits.handshakeTimeout);
    this.handshakeTimer.unref?.();
  }

  get isOpen(): boolean {
    return !this.ended && !this.isClosing && this.connection !== undefined;
  }

  get stats(): ConnectionStats {
    return {
      ...this.counters,
      queuedBytes: this.sendQueue.bytes,
      inFlight: this.running,
      readPaused: this.ended || this.isReadBlocked(~0),
    };
  }

  /** The peer's credentials, from connect time. */
  get peer(): Credentials {
    return this.channel.credentials;
  }

  /** Bytes waiting to be written now. */
  get queuedBytes(): number {
    return this.sendQueue.bytes;
  }

  /** Handlers of this connection running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Closes the connection after writing what the kernel takes now. */
  close(): void {
    const goodbye = this.connection === undefined ? undefined : encodeGoodbye(this.counters.requests);
    this.closeGracefully(new IpcError('ECONNABORTED', 'connection closed by the server'), goodbye);
  }

  /** Stops reading requests and closes once the running handlers have answered. */
  closeWhenIdle(): void {
    if (this.connection === undefined || this.running === 0) {
      this.close();
      return;
    }
    this.blockReading(SessionBlock.Draining, true);
  }

  pause(paused: boolean): void {
    this.blockReading(SessionBlock.Paused, paused);
  }

  passGate(): void {
    this.wokenIdle = true;
    this.blockReading(SessionBlock.Server, false);
    // After the frames held back were delivered: if reading stopped again, the room goes on.
    this.poller.job(this.afterWake);
  }

  sendEvent(event: number, payload: Uint8Array): void {
    checkEvent(event, payload);
    if (!this.isOpen) throw new IpcError('ENOTCONN', `cannot send event ${event}: connection ${this.id} has ended`);
    if (payload.length > this.maxMessage) {
      throw new IpcError(
        'EMSGSIZE',
        `event of ${payload.length} bytes exceeds the agreed maximum of ${this.maxMessage} bytes`,
      );
    }
    if (this.sendQueue.bytes > this.limits.eventQueueLimit) {
      this.eventQueueFull(event);
      return;
    }
    this.counters.events++;
    this.send(FrameKind.Event, event, 0, payload);
  }

  protected onFrame(kind: number, code: number, id: number, payload: Buffer): void {
    if (kind === FrameKind.Request && this.connection !== undefined) {
      // A request read after its sender went away has nobody to answer: it does not run.
      if (!this.peerGone) this.handleRequest(code, id, payload);
    } else if (kind === FrameKind.Goodbye && this.connection !== undefined) {
      this.end(new IpcError('ESHUTDOWN', 'client closed the connection'));
    } else if (kind === FrameKind.Hello && this.connection === undefined) {
      this.handleHello(payload);
    } else {
      throw new IpcError('EPROTO', `unexpected frame of kind ${kind} from client`);
    }
  }

  protected override onOutputBlocked(): void {
    this.counters.flowControlEpisodes++;
  }

  /**
   * Before each request and each read once the handshake is done: this connection's byte budget,
   * then the server's gate. Turned away, the session stops reading and waits.
   */
  protected override admitsNext(): boolean {
    if (this.connection === undefined) return true;
    const held = this.countHeld();
    if (this.runningBytes + this.sendQueue.bytes >= this.limits.maxBufferedBytes / 2) {
      this.blockReading(SessionBlock.Budget, true);
      return false;
    }
    if (this.load.admits(held)) return true;
    this.blockReading(SessionBlock.Server, true);
    this.wakeDone();
    this.load.wait(this);
    return false;
  }

  /** Tells the gate this session is done with the room it was woken for, used or not. */
  private wakeDone(): void {
    if (!this.wokenIdle) return;
    this.wokenIdle = false;
    this.load.wakeDone();
  }

  /** A read takes no more than this connection's budget and the server's have room for. */
  protected override readLimit(): number {
    // Woken and about to read from the kernel with nothing to deliver: the room goes on to the
    // next waiter, or a peer that sends one byte of a frame would hold it for as long as it likes.
    // What this read brings still meets the gate, as every request does.
    this.wakeDone();
    const held = this.countedBytes;
    const shared = Math.max(this.load.bytesLeft, GUARANTEED_BYTES - held);
    return Math.max(1, Math.min(this.limits.maxBufferedBytes - held, shared));
  }

  /** Brings the server's byte total up to date with what this session holds; returns that. */
  private countHeld(): number {
    const held = this.ended ? this.runningBytes : this.decoder.pending + this.runningBytes + this.sendQueue.bytes;
    const delta = held - this.countedBytes;
    if (delta !== 0) {
      this.countedBytes = held;
      this.load.bytesChanged(delta);
    }
    return held;
  }

  /** Work done or written: count it, and read again once half of it is gone. */
  private workShrank(): void {
    this.countHeld();
    if (
      this.isReadBlocked(SessionBlock.Budget) &&
      this.runningBytes + this.sendQueue.bytes <= this.limits.maxBufferedBytes / 4
    ) {
      this.blockReading(SessionBlock.Budget, false);
    }
  }

  protected override onFlushed(queuedBytes: number): void {
    this.workShrank();
    if (!this.owesDrained || queuedBytes > this.limits.eventQueueLimit / 2 || !this.isOpen) return;
    this.owesDrained = false;
    try {
      this.service!.definition.drained?.(this.connection!);
    } catch (error) {
      this.host.reportHookError('drained', error);
    }
  }

  private eventQueueFull(event: number): void {
    const waiting = this.sendQueue.bytes;
    this.counters.eventsRefused++;
    if (this.limits.onEventQueueFull === 'disconnect') {
      const error = new IpcError(
        'ENOBUFS',
        `connection ${this.id} (pid ${this.channel.credentials.pid}) dropped: it did not read its events and ${waiting} bytes were waiting`,
      );
      this.host.slowConsumerDropped(this, error);
      // No drain: the peer is not reading, waiting for it would only hold the memory longer.
      this.end(error);
      return;
    }
    this.owesDrained = true;
    throw new IpcError(
      'EAGAIN',
      `connection ${this.id} is not reading: ${waiting} bytes wait to be written; send event ${event} again later`,
    );
  }

  private handleHello(payload: Buffer): void {
    clearTimeout(this.handshakeTimer);
    const hello = decodeHello(payload);
    const host = this.host;
    if (hello.version !== PROTOCOL_VERSION) {
      return this.refuse(
        undefined,
        'EPROTONOSUPPORT',
        `client speaks protocol version ${hello.version}, server speaks ${PROTOCOL_VERSION}: upgrade the older side`,
      );
    }
    if (this.refusal !== undefined) return this.refuse(undefined, 'EAGAIN', this.refusal);
    const service = host.findService(hello);
    if (service === undefined) {
      const wanted = hello.serviceName === '' ? `id ${hello.serviceId}` : `"${hello.serviceName}"`;
      return this.refuse(undefined, 'ENXIO', `no service ${wanted} on this server: check the service id or name`);
    }
    const credentials = this.channel.credentials;
    const definition = service.definition;
    let verdict: unknown = true;
    try {
      verdict = definition.accept?.(credentials);
    } catch (error) {
      host.reportHookError('accept', error);
      verdict = false;
    }
    if (verdict !== true && verdict !== undefined) {
      // Fail closed: anything but an explicit yes (a promise, say) refuses.
      if (typeof verdict !== 'string' && verdict !== false) {
        host.reportHookError(
          'accept',
          new IpcError('EINVAL', 'accept must return true, false, an errno-style code or nothing, synchronously'),
        );
      }
      const code = typeof verdict === 'string' ? verdict : 'EACCES';
      return this.refuse(
        service,
        code,
        `service "${definition.name}" refused uid ${credentials.uid} gid ${credentials.gid} pid ${credentials.pid}`,
      );
    }
    let context: unknown;
    try {
      context = definition.createContext?.(credentials);
    } catch (error) {
      host.reportHookError('createContext', error);
      return this.refuse(service, 'EREMOTEIO', `service "${definition.name}" failed to set up the session`);
    }
    this.maxMessage = Math.min(hello.maxMessage, host.maxMessageSize);
    this.service = service;
    this.connection = new Connection(this.id, credentials, this.maxMessage, context, this);
    this.send(
      FrameKind.Welcome,
      0,
      0,
      encodeWelcome({
        version: PROTOCOL_VERSION,
        maxMessage: this.maxMessage,
        serviceId: definition.id,
        serviceName: definition.name,
      }),
    );
    this.decoder.maxMessage = this.maxMessage;
    host.sessionOpened(this, service);
    try {
      definition.created?.(this.connection);
    } catch (error) {
      host.reportHookError('created', error);
    }
    if (this.isOpen) host.announce(this);
  }

  private refuse(service: RegisteredService | undefined, code: string, message: string): void {
    if (service !== undefined) service.stats.refused++;
    this.host.sessionOpened(this, undefined);
    this.send(FrameKind.Refuse, 0, 0, encodeError(code, message));
    this.close();
  }

  private handleRequest(command: number, id: number, payload: Buffer): void {
    const service = this.service!;
    this.counters.requests++;
    this.wakeDone();
    if (this.bucket !== undefined) this.takeToken(this.bucket);
    const host = this.host;
    if (host.limitsRequests) this.load.takeToken();
    let result: Uint8Array | void | PromiseLike<Uint8Array | void>;
    let thenable = false;
    try {
      const handler = service.handlerFor(command);
      if (handler === undefined) {
        this.sendError(id, new IpcError('ENOSYS', `service "${service.definition.name}" has no command ${command}`));
        return;
      }
      result = handler(payload, this.connection!, command);
      // The common answer, bytes, is settled before anything looks for a then() on it; a then
      // getter that throws is the handler's failure, not the client's.
      thenable =
        !(result instanceof Uint8Array) &&
        result != null &&
        typeof (result as PromiseLike<unknown>).then === 'function';
    } catch (error) {
      this.handlerThrew(id, command, error);
      return;
    }
    if (!thenable) {
      this.respond(id, command, result as Uint8Array | void);
      return;
    }
    if (++this.running >= this.limits.maxInFlight) this.blockReading(SessionBlock.Busy, true);
    const size = payload.length;
    this.runningBytes += size;
    this.load.inFlightChanged(1);
    // Promise.resolve tames foreign thenables: a throwing then() rejects, a double resolve settles once.
    Promise.resolve(result).then(
      (value) => this.settle(id, command, size, value, undefined, false),
      (error: unknown) => this.settle(id, command, size, undefined, error, true),
    );
  }

  /** Counts a request against this connection's rate; out of tokens, stops reading until one is back. */
  private takeToken(bucket: TokenBucket): void {
    const wait = bucket.take();
    if (wait === 0 || this.throttleTimer !== undefined) return;
    this.counters.throttleEpisodes++;
    this.blockReading(SessionBlock.Throttled, true);
    this.throttleTimer = setTimeout(() => {
      this.throttleTimer = undefined;
      this.blockReading(SessionBlock.Throttled, false);
    }, Math.ceil(wait));
  }

  private settle(
    id: number,
    command: number,
    size: number,
    value: Uint8Array | void,
    error: unknown,
    failed: boolean,
  ): void {
    this.running--;
    this.runningBytes -= size;
    this.load.inFlightChanged(-1);
    if (!this.ended) {
      if (failed) this.handlerThrew(id, command, error);
      else this.respond(id, command, value);
      this.workShrank();
      if (this.running < this.limits.maxInFlight) this.blockReading(SessionBlock.Busy, false);
      if (this.running === 0 && this.isReadBlocked(SessionBlock.Draining)) this.close();
    } else {
      this.countHeld();
      if (this.running === 0) this.destroy();
    }
  }

  private respond(id: number, command: number, value: Uint8Array | void): void {
    const payload = value ?? EMPTY;
    if (!(payload instanceof Uint8Array)) {
      this.handlerFailed(
        id,
        command,
        new IpcError('EREMOTEIO', `handler returned ${describeValue(payload)}, not a Uint8Array or nothing`),
      );
    } else if (payload.length > this.maxMessage) {
      const error = new IpcError(
        'EMSGSIZE',
        `response of ${payload.length} bytes exceeds the agreed maximum of ${this.maxMessage} bytes`,
      );
      // The caller may send something smaller, so it learns the size; the service learns of its bug.
      this.host.reportHandlerFailure(this, command, error);
      this.sendError(id, error);
    } else {
      this.counters.responses++;
      this.send(FrameKind.Response, 0, id, payload);
    }
  }

  /** An IpcError a handler throws is its answer; anything else is a failure. */
  private handlerThrew(id: number, command: number, error: unknown): void {
    if (error instanceof IpcError) this.sendError(id, error);
    else this.handlerFailed(id, command, error);
  }

  /** Reports a handler failure and answers the caller without the failure's internals. */
  private handlerFailed(id: number, command: number, error: unknown): void {
    this.host.reportHandlerFailure(this, command, error);
    const definition = this.service!.definition;
    if (definition.exposeErrors === true) {
      this.sendError(id, error);
      return;
    }
    // An errno-style code (a system error's EACCES, say) tells the caller something; the text may not.
    const { code } = IpcError.from(error, 'EREMOTEIO');
    this.sendError(
      id,
      new IpcError(code, `service "${definition.name}" failed to handle command ${command}; the server reported why`),
    );
  }

  private sendError(id: number, error: unknown): void {
    const failure = IpcError.from(error, 'EREMOTEIO');
    this.counters.errors++;
    if (failure.code === 'EBADMSG') this.counters.badMessages++;
    this.send(FrameKind.ErrorResponse, 0, id, encodeError(failure.code, failure.message));
  }

  protected onEnd(error: IpcError): void {
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.throttleTimer);
    this.load.leave(this);
    this.afterWake();
    // Only the payloads its running handlers hold stay counted, until they settle.
    this.countHeld();
    const protocolError = error.code === 'EPROTO' || error.code === 'EMSGSIZE';
    this.host.sessionEnded(this, error, protocolError);
    const connection = this.connection;
    if (connection === undefined) return;
    if (!this.closedHookRan) {
      this.closedHookRan = true;
      try {
        this.service!.definition.closed?.(connection, error);
      } catch (hookError) {
        this.host.reportHookError('closed', hookError);
      }
    }
    if (this.running === 0) this.destroy();
  }

  private destroy(): void {
    try {
      this.service!.definition.destroyed?.(this.connection!);
    } catch (error) {
      this.host.reportHookError('destroyed', error);
    }
  }
}

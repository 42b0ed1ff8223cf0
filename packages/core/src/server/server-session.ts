// ServerSession: one accepted connection, from handshake to close (server layer).
import { Connection, type ConnectionSession } from './connection.js';
import { endingReason, IpcError } from '../errors.js';
import { fdLimit, FrameLink, LinkState, QUEUED_FDS_HIGH_WATER, type LinkOwner } from '../link/frame-link.js';
import type { ReceivedFds } from '../link/received-fds.js';
import { FrameKind, EMPTY_PAYLOAD, MAX_FDS_PER_MESSAGE } from '../protocol/frame.js';
import { MessageWithFds } from './with-fds.js';
import { SessionState } from '../protocol/session-state.js';
import { describeValue } from '../describe-value.js';
import { diagnostics } from './diagnostics.js';
import { checkEvent } from '../option-checks.js';
import {
  decodeHello,
  EARLY_REQUEST_MAX,
  encodeError,
  encodeGoodbye,
  encodeWelcome,
  PROTOCOL_VERSION,
  type Hello,
} from '../protocol/handshake.js';
import type { Poller, Timer } from '../contracts/poller.js';
import { TokenBucket, type RateLimit } from './rate-limit.js';
import type { GateWaiter, ServerLoad } from './server-load.js';
import { GUARANTEED_BYTES } from './server-load.js';
import type { RegisteredService } from './service-registry.js';
import { newTrafficStats, type ConnectionStats, type TrafficStats } from '../stats.js';
import type { Channel, Credentials } from '../contracts/transport.js';

/*
 * A session's life (its states: protocol/session-state.ts). Its link (link/frame-link.ts) has
 * its own, simpler one underneath: the session is `closing` exactly while its link is, and
 * `ended` once its link ended.
 *
 *   handshaking ──hello──▶ open ──close()──▶ draining ──handlers answered, or wait ran out──▶ closing ──▶ ended
 *        │                                                                                    ▲
 *        └──refused (the refusal is written)──────────────────────────────────────────────────┘
 *
 *   any state ──destroy(), peer gone, protocol error, handshake timeout──▶ ended
 *
 * `closed` runs once, on the way into `ended` from `open`, `draining` or `closing`; `destroyed`
 * runs once after that, when no handler of the connection is running any more.
 */

/** What to do with an event for a client whose queue is over its bound. */
export type EventQueueFullPolicy = 'reject' | 'disconnect';

/** The per-connection limits and the server-wide state a session shares, fixed by the server's options. */
export interface SessionSettings {
  readonly handshakeTimeout: number;
  readonly outputHighWater: number;
  readonly eventQueueLimit: number;
  readonly onEventQueueFull: EventQueueFullPolicy;
  readonly maxInFlight: number;
  readonly requestRate: RateLimit | undefined;
  /** `maxBufferedBytesPerConnection`: half for admitted work, half for the frame being read. */
  readonly maxBufferedBytes: number;
  /** The server's `maxMessageSize`. */
  readonly maxMessageSize: number;
  /** The server's `maxFdsPerMessage`: what a request may carry. */
  readonly maxFds: number;
  /** The server-wide gate every request passes. */
  readonly load: ServerLoad;
  /** Whether the server counts each request against a server-wide rate. */
  readonly limitsRequests: boolean;
}

/** What a session tells its server, and the one thing it asks. */
export interface SessionHost {
  findService(hello: Hello): RegisteredService | undefined;
  /** The handshake is done and the service's `created` hook ran: tell the application. */
  opened(session: ServerSession): void;
  /** The client was turned away at its hello. */
  refused(session: ServerSession): void;
  /** The session ended, breaking the protocol or not; it holds no slot any more. */
  ended(session: ServerSession, protocolError: boolean): void;
  /** The connection was dropped because it did not read its events. */
  droppedSlowConsumer(session: ServerSession, error: IpcError): void;
  hookFailed(hook: string, error: unknown): void;
  /** A handler threw something other than an IpcError, or answered what cannot be sent. */
  handlerFailed(session: ServerSession, command: number, error: unknown): void;
}

/** The session's own reasons to stop reading; its link reads while none is set. */
const Pause = {
  /** `maxInFlightPerConnection` handlers of this connection are running. */
  Busy: 1,
  /** This connection's request rate ran out. */
  Throttled: 2,
  /** The service paused this connection. */
  Paused: 4,
  /** This session waits at the server's gate: its limits, its rate, its budget or a pause. */
  Server: 8,
  /** A graceful close: no request is read any more. */
  Draining: 16,
  /** This connection's requests running and output queued fill half its byte budget. */
  Budget: 32,
} as const;

/**
 * One accepted client connection on the server: handshake, request dispatch, events, limits,
 * and the exactly-once `closed` / `destroyed` hooks.
 */
export class ServerSession implements ConnectionSession, GateWaiter, LinkOwner {
  readonly id: number;
  readonly counters: TrafficStats = newTrafficStats();
  service: RegisteredService | undefined;
  connection: Connection<unknown> | undefined;
  private sessionState: SessionState = SessionState.Handshaking;
  private readonly link: FrameLink;
  private readonly channel: Channel;
  private readonly poller: Poller;
  private readonly host: SessionHost;
  private readonly settings: SessionSettings;
  private readonly bucket: TokenBucket | undefined;
  private readonly load: ServerLoad;
  /** {@link Pause} bits. */
  private pauses = 0;
  private maxMessage = 0;
  private running = 0;
  /** Answers made by `withFds` and not sent yet: their duplicates are closed if the session ends first. */
  private replies: Set<MessageWithFds> | undefined;
  /** Payload bytes of the requests whose asynchronous handlers run. */
  private runningBytes = 0;
  /** The bytes this session last added to the server's total: those beyond its guaranteed share. */
  private countedBytes = 0;
  /** Woken at the gate and no request admitted since: the room it was woken for is unused. */
  private wokenIdle = false;
  /** {@link ServerSession.afterWake} as a job, made on first use: most sessions are never woken. */
  private afterWakeJob: (() => void) | undefined;
  /** The handshake's deadline, then a graceful close's wait for running handlers. */
  private deadline: Timer | undefined;
  private throttleTimer: Timer | undefined;
  /** An event was refused with `EAGAIN`: tell the service once the queue has room again. */
  private owesDrained = false;
  /** Whether an answer went out since {@link ServerSession.expectsPeer} last asked: its client may ask again soon. */
  private answeredSinceAsked = false;

  /**
   * @param refusal - why the server turns this client away (`EAGAIN`, at its hello), or undefined.
   */
  constructor(
    id: number,
    channel: Channel,
    poller: Poller,
    host: SessionHost,
    settings: SessionSettings,
    readonly refusal: string | undefined,
  ) {
    this.id = id;
    this.channel = channel;
    this.poller = poller;
    this.host = host;
    this.settings = settings;
    this.load = settings.load;
    this.bucket =
      settings.requestRate === undefined
        ? undefined
        : new TokenBucket(settings.requestRate, 'requestRate', () => poller.now());
    // Until the hello is in, only control frames are legal, so the decoder limit is tiny.
    this.link = new FrameLink(channel, poller, this, this.counters, 0, settings.outputHighWater);
    const deadline = poller.timer(settings.handshakeTimeout, () => {
      this.destroy(
        new IpcError('ETIMEDOUT', `client sent no complete handshake within ${settings.handshakeTimeout} ms`),
      );
    });
    this.deadline = deadline;
    try {
      this.link.start();
    } catch (error) {
      deadline.cancel();
      throw error;
    }
  }

  /** Reads what the client sent before its connection was accepted: see {@link FrameLink.readNow}. */
  readNow(): void {
    this.link.readNow();
  }

  get state(): SessionState {
    return this.sessionState;
  }

  /** Open, or draining in a server's graceful close: events may still be sent. */
  get isOpen(): boolean {
    const state = this.sessionState;
    return state === SessionState.Open || state === SessionState.Draining;
  }

  get stats(): ConnectionStats {
    return {
      ...this.counters,
      queuedBytes: this.link.queuedBytes,
      inFlight: this.running,
      readPaused: !this.link.reading,
    };
  }

  /** The peer's credentials, from connect time. */
  get peer(): Credentials {
    return this.channel.credentials;
  }

  /** Bytes waiting to be written now. */
  get queuedBytes(): number {
    return this.link.queuedBytes;
  }

  /** Handlers of this connection running now. */
  get inFlight(): number {
    return this.running;
  }

  /**
   * Closes gracefully: no more requests are read; handlers running now may answer for up to
   * `waitMs` (0: their answers are dropped); then a goodbye (telling the client how many of its
   * requests were read) and what is queued are written, and the connection ends. A session still
   * in its handshake just ends.
   */
  close(waitMs: number): void {
    const state = this.sessionState;
    if (state === SessionState.Handshaking) {
      this.sessionState = SessionState.Closing;
      this.link.close(closedByServer(), undefined);
      return;
    }
    if (state === SessionState.Draining) {
      // A close that waits no longer cuts short the wait already under way.
      if (waitMs === 0) this.sayGoodbye();
      return;
    }
    if (state !== SessionState.Open) return;
    this.sessionState = SessionState.Draining;
    this.pause(Pause.Draining, true);
    if (this.running === 0 || waitMs === 0) {
      this.sayGoodbye();
      return;
    }
    this.deadline = this.poller.timer(waitMs, () => this.sayGoodbye(), true);
  }

  /** Ends the connection now, dropping what is queued and what running handlers will answer. */
  destroy(reason: IpcError): void {
    this.link.destroy(reason);
  }

  /** The service's pause: {@link Connection.pauseRequests}. */
  pauseRequests(paused: boolean): void {
    this.pause(Pause.Paused, paused);
  }

  get passesBytesGate(): boolean {
    return this.held < GUARANTEED_BYTES || this.link.inputInHand;
  }

  passGate(): void {
    this.wokenIdle = true;
    this.pause(Pause.Server, false);
    // After the frames held back were delivered: if reading stopped again, the room goes on.
    this.poller.job((this.afterWakeJob ??= () => this.afterWake()));
  }

  /**
   * Once the frames held back were delivered: if they did not use the room, reads at once, and
   * gives the room back if that did not use it either (the session ended, stopped for its own
   * reasons, or has nothing to read). A session turned away with nothing left to read (its last
   * read took all there was) would otherwise hold the room until its peer writes again, and other
   * waiters would wait with it; what comes later meets the gate as it is then.
   */
  private afterWake(): void {
    if (this.wokenIdle && this.link.reading) this.link.readNow();
    this.wakeDone();
  }

  sendEvent(event: number, payload: Uint8Array, fds: readonly number[] | undefined): void {
    checkEvent(event, payload);
    if (!this.isOpen) throw new IpcError('ENOTCONN', `cannot send event ${event}: connection ${this.id} has ended`);
    if (payload.length > this.maxMessage) {
      throw new IpcError(
        'EMSGSIZE',
        `event of ${payload.length} bytes exceeds the agreed maximum of ${this.maxMessage} bytes`,
      );
    }
    if (this.link.queuedBytes > this.settings.eventQueueLimit || this.link.queuedFds > QUEUED_FDS_HIGH_WATER) {
      this.eventQueueFull(event);
      return;
    }
    const copies = fds === undefined || fds.length === 0 ? undefined : this.link.duplicateFds(fds);
    this.counters.events++;
    this.link.send(FrameKind.Event, event, 0, payload, copies);
  }

  withFds(payload: Uint8Array, fds: readonly number[]): MessageWithFds {
    if (!this.isOpen) throw new IpcError('ENOTCONN', `cannot answer with fds: connection ${this.id} has ended`);
    const reply = new MessageWithFds(payload, this.link.duplicateFds(fds));
    (this.replies ??= new Set()).add(reply);
    return reply;
  }

  frame(kind: number, code: number, id: number, payload: Buffer, fds: ReceivedFds): void {
    const handshaking = this.sessionState === SessionState.Handshaking;
    if (kind === FrameKind.Request && !handshaking) {
      // A request read after its sender went away has nobody to answer: it does not run.
      if (!this.link.peerGone) this.handleRequest(code, id, payload, fds);
      else fds.closeUntaken();
    } else if (kind === FrameKind.Goodbye && !handshaking) {
      this.destroy(endingReason('ESHUTDOWN', 'client closed the connection'));
    } else if (kind === FrameKind.Hello && handshaking) {
      this.handleHello(payload);
    } else {
      throw new IpcError('EPROTO', `unexpected frame of kind ${kind} from client`);
    }
  }

  outputBlocked(): void {
    this.counters.flowControlEpisodes++;
  }

  /**
   * Before each request and each read once the handshake is done: this connection's byte budget,
   * then the server's gate. Turned away, the session stops reading and waits.
   */
  admitsNext(): boolean {
    if (this.sessionState === SessionState.Handshaking) return true;
    this.countHeld();
    if (this.runningBytes + this.link.queuedBytes >= this.settings.maxBufferedBytes / 2) {
      this.pause(Pause.Budget, true);
      return false;
    }
    if (this.load.admits(this)) return true;
    this.pause(Pause.Server, true);
    this.wakeDone();
    this.load.wait(this);
    return false;
  }

  /**
   * A read takes up to this connection's budget while the gate is open, and up to its guaranteed
   * share while it is shut: beyond that share, room for a frame is set aside whole or not at all.
   * Room for part of one would be counted while the frame cannot complete, and enough such parts
   * would keep the gate shut for good with nothing left to run.
   */
  readLimit(): number {
    // Woken and about to read from the kernel with nothing to deliver: the room goes on to the
    // next waiter, or a peer that sends one byte of a frame would hold it for as long as it likes.
    // What this read brings still meets the gate, as every request does.
    this.wakeDone();
    return Math.max(1, (this.load.isShut ? GUARANTEED_BYTES : this.settings.maxBufferedBytes) - this.held);
  }

  inputChanged(): void {
    this.countHeld();
  }

  flushed(queuedBytes: number): void {
    this.workShrank();
    if (!this.owesDrained || queuedBytes > this.settings.eventQueueLimit / 2 || !this.isOpen) return;
    this.owesDrained = false;
    try {
      this.service!.definition.drained?.(this.connection!);
    } catch (error) {
      this.host.hookFailed('drained', error);
    }
  }

  expectsPeer(): boolean {
    const answered = this.answeredSinceAsked;
    this.answeredSinceAsked = false;
    return answered;
  }

  ended(error: IpcError): void {
    this.sessionState = SessionState.Ended;
    this.deadline?.cancel();
    this.throttleTimer?.cancel();
    this.load.leave(this);
    this.afterWake();
    if (this.replies !== undefined) {
      for (const reply of this.replies) this.link.closeFds(reply.copies);
      this.replies.clear();
    }
    // Only the payloads its running handlers hold stay counted, until they settle.
    this.countHeld();
    const protocolError = error.code === 'EPROTO' || error.code === 'EMSGSIZE';
    const connection = this.connection;
    if (connection !== undefined) this.service!.ended(connection, this.counters, protocolError);
    this.host.ended(this, protocolError);
    if (protocolError && diagnostics.protocolError.hasSubscribers) {
      diagnostics.protocolError.publish({ connectionId: this.id, pid: this.channel.credentials.pid, error });
    }
    if (connection === undefined) return;
    if (diagnostics.connectionClose.hasSubscribers) {
      diagnostics.connectionClose.publish({ connection, serviceName: this.service!.definition.name, reason: error });
    }
    try {
      this.service!.definition.closed?.(connection, error);
    } catch (hookError) {
      this.host.hookFailed('closed', hookError);
    }
    if (this.running === 0) this.runDestroyedHook();
  }

  /** Sets or clears one of the session's reasons to stop reading. */
  private pause(reason: number, on: boolean): void {
    const pauses = on ? this.pauses | reason : this.pauses & ~reason;
    if (pauses === this.pauses) return;
    this.pauses = pauses;
    this.link.pause(pauses !== 0);
  }

  /** The end of a graceful close's wait: the goodbye, then the link drains and ends. */
  private sayGoodbye(): void {
    if (this.sessionState !== SessionState.Draining) return;
    this.deadline?.cancel();
    this.sessionState = SessionState.Closing;
    this.link.close(closedByServer(), encodeGoodbye(this.counters.requests));
  }

  /** Tells the gate this session is done with the room it was woken for, used or not. */
  private wakeDone(): void {
    if (!this.wokenIdle) return;
    this.wokenIdle = false;
    this.load.wakeDone();
  }

  /** Bytes this session makes the server hold: input read or set aside, running requests, output. */
  private get held(): number {
    const link = this.link;
    return link.state === LinkState.Ended ? this.runningBytes : link.inputBytes + this.runningBytes + link.queuedBytes;
  }

  /**
   * Brings the server's byte total up to date with what this session holds beyond its guaranteed
   * share. The share stays out of the total: sessions that hold only part of a frame, waiting for
   * room for the rest, would otherwise keep the gate shut once there are enough of them, while
   * nothing they hold can be freed before they read again.
   */
  private countHeld(): void {
    const delta = Math.max(0, this.held - GUARANTEED_BYTES) - this.countedBytes;
    if (delta !== 0) {
      this.countedBytes += delta;
      this.load.bytesChanged(delta);
    }
  }

  /** Work done or written: count it, and read again once half of it is gone. */
  private workShrank(): void {
    this.countHeld();
    if (this.pauses & Pause.Budget && this.runningBytes + this.link.queuedBytes <= this.settings.maxBufferedBytes / 4) {
      this.pause(Pause.Budget, false);
    }
  }

  private eventQueueFull(event: number): void {
    const waiting = this.link.queuedBytes;
    this.counters.eventsRefused++;
    if (this.settings.onEventQueueFull === 'disconnect') {
      const error = new IpcError(
        'ENOBUFS',
        `connection ${this.id} (pid ${this.channel.credentials.pid}) dropped: it did not read its events and ${waiting} bytes were waiting`,
      );
      this.service!.droppedSlowConsumer();
      this.host.droppedSlowConsumer(this, error);
      // No drain: the peer is not reading, waiting for it would only hold the memory longer.
      this.destroy(error);
      return;
    }
    this.owesDrained = true;
    throw new IpcError(
      'EAGAIN',
      `connection ${this.id} is not reading: ${waiting} bytes wait to be written; send event ${event} again later`,
    );
  }

  private handleHello(payload: Buffer): void {
    this.deadline?.cancel();
    this.deadline = undefined;
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
      host.hookFailed('accept', error);
      verdict = false;
    }
    if (verdict !== true && verdict !== undefined) {
      // Fail closed: anything but an explicit yes (a promise, say) refuses.
      if (typeof verdict !== 'string' && verdict !== false) {
        host.hookFailed(
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
      host.hookFailed('createContext', error);
      return this.refuse(service, 'EREMOTEIO', `service "${definition.name}" failed to set up the session`);
    }
    this.maxMessage = Math.min(hello.maxMessage, this.settings.maxMessageSize);
    this.service = service;
    this.connection = new Connection(this.id, credentials, this.maxMessage, context, this);
    const maxFds = fdLimit(this.channel, this.settings.maxFds);
    this.sessionState = SessionState.Open;
    this.link.send(
      FrameKind.Welcome,
      0,
      0,
      encodeWelcome({
        version: PROTOCOL_VERSION,
        maxMessage: this.maxMessage,
        maxFds,
        serviceId: definition.id,
        serviceName: definition.name,
      }),
    );
    // Requests the client wrote with its hello were sized before it knew the agreed maximum.
    this.link.maxMessage = Math.max(this.maxMessage, EARLY_REQUEST_MAX);
    this.link.peerMaxFds = Math.min(hello.maxFds, MAX_FDS_PER_MESSAGE);
    this.link.acceptFds(maxFds);
    service.opened(this.connection);
    // Before any hook or listener runs, so a connection they close is seen opening first.
    if (diagnostics.connectionOpen.hasSubscribers) {
      diagnostics.connectionOpen.publish({ connection: this.connection, serviceName: definition.name });
    }
    try {
      definition.created?.(this.connection);
    } catch (error) {
      host.hookFailed('created', error);
    }
    if (this.isOpen) host.opened(this);
  }

  private refuse(service: RegisteredService | undefined, code: string, message: string): void {
    service?.refusedOne();
    this.host.refused(this);
    this.link.send(FrameKind.Refuse, 0, 0, encodeError(code, message));
    this.sessionState = SessionState.Closing;
    this.link.close(closedByServer(), undefined);
  }

  private handleRequest(command: number, id: number, payload: Buffer, fds: ReceivedFds): void {
    try {
      this.runRequest(command, id, payload, fds);
    } finally {
      // Only once the request counts in flight and against the rates: the room handed on is then
      // room that is left, not the room this request just took, which would wake a waiter only
      // to turn it away.
      this.wakeDone();
    }
  }

  private runRequest(command: number, id: number, payload: Buffer, fds: ReceivedFds): void {
    const service = this.service!;
    this.counters.requests++;
    if (this.bucket !== undefined) this.takeToken(this.bucket);
    if (this.settings.limitsRequests) this.load.takeToken();
    if (diagnostics.requestStart.hasSubscribers) {
      diagnostics.requestStart.publish({ connection: this.connection, command, id, size: payload.length });
    }
    let result: Answer | PromiseLike<Answer>;
    let thenable = false;
    try {
      if (payload.length > this.maxMessage) {
        fds.closeUntaken();
        this.sendError(
          id,
          command,
          new IpcError(
            'EMSGSIZE',
            `request of ${payload.length} bytes exceeds the agreed maximum of ${this.maxMessage} bytes: split it`,
          ),
        );
        return;
      }
      const handler = service.handlerFor(command);
      if (handler === undefined) {
        fds.closeUntaken();
        this.sendError(
          id,
          command,
          new IpcError('ENOSYS', `service "${service.definition.name}" has no command ${command}`),
        );
        return;
      }
      result = handler(payload, this.connection!, command, fds);
      // The common answer, bytes, is settled before anything looks for a then() on it; a then
      // getter that throws is the handler's failure, not the client's.
      thenable =
        !(result instanceof Uint8Array) &&
        result != null &&
        typeof (result as PromiseLike<unknown>).then === 'function';
    } catch (error) {
      fds.closeUntaken();
      this.handlerThrew(id, command, error);
      return;
    }
    if (!thenable) {
      fds.closeUntaken();
      this.respond(id, command, result as Answer);
      return;
    }
    if (++this.running >= this.settings.maxInFlight) this.pause(Pause.Busy, true);
    const size = payload.length;
    this.runningBytes += size;
    this.load.inFlightChanged(1);
    // Promise.resolve tames foreign thenables: a throwing then() rejects, a double resolve settles once.
    Promise.resolve(result).then(
      (value) => {
        fds.closeUntaken();
        this.settle(id, command, size, value, undefined, false);
      },
      (error: unknown) => {
        fds.closeUntaken();
        this.settle(id, command, size, undefined, error, true);
      },
    );
  }

  /** Counts a request against this connection's rate; out of tokens, stops reading until one is back. */
  private takeToken(bucket: TokenBucket): void {
    const wait = bucket.take();
    if (wait === 0 || this.throttleTimer !== undefined) return;
    this.counters.throttleEpisodes++;
    this.pause(Pause.Throttled, true);
    this.throttleTimer = this.poller.timer(
      Math.ceil(wait),
      () => {
        this.throttleTimer = undefined;
        this.pause(Pause.Throttled, false);
      },
      true,
    );
  }

  private settle(id: number, command: number, size: number, value: Answer, error: unknown, failed: boolean): void {
    this.running--;
    this.runningBytes -= size;
    this.load.inFlightChanged(-1);
    const state = this.sessionState;
    if (state === SessionState.Open || state === SessionState.Draining) {
      if (failed) this.handlerThrew(id, command, error);
      else this.respond(id, command, value);
      this.workShrank();
      if (this.running < this.settings.maxInFlight) this.pause(Pause.Busy, false);
      if (this.running === 0 && state === SessionState.Draining) this.sayGoodbye();
    } else {
      this.countHeld();
      if (diagnostics.requestFinish.hasSubscribers) {
        diagnostics.requestFinish.publish({ connection: this.connection, command, id, error: answerDropped() });
      }
      if (this.running === 0 && state === SessionState.Ended) this.runDestroyedHook();
    }
  }

  private respond(id: number, command: number, value: Answer): void {
    let payload: unknown = value ?? EMPTY_PAYLOAD;
    let fds: number[] | undefined;
    // Only an answer this connection made and nobody sent yet: its duplicates are this link's.
    if (this.replies?.delete(payload as MessageWithFds)) {
      const reply = payload as MessageWithFds;
      fds = reply.copies.length === 0 ? undefined : reply.copies.splice(0);
      payload = reply.payload;
    }
    if (!(payload instanceof Uint8Array)) {
      if (fds !== undefined) this.link.closeFds(fds);
      this.handlerFailed(
        id,
        command,
        new IpcError(
          'EREMOTEIO',
          `handler returned ${describeValue(payload)}, not a Uint8Array, withFds(…) or nothing`,
        ),
      );
    } else if (payload.length > this.maxMessage) {
      const error = new IpcError(
        'EMSGSIZE',
        `response of ${payload.length} bytes exceeds the agreed maximum of ${this.maxMessage} bytes`,
      );
      // The caller may send something smaller, so it learns the size; the service learns of its bug.
      if (fds !== undefined) this.link.closeFds(fds);
      this.reportHandlerFailure(command, error);
      this.sendError(id, command, error);
    } else {
      this.counters.responses++;
      this.answeredSinceAsked = true;
      const queued = this.link.send(FrameKind.Response, 0, id, payload, fds);
      if (diagnostics.requestFinish.hasSubscribers) {
        const error = queued ? undefined : answerDropped();
        diagnostics.requestFinish.publish({ connection: this.connection, command, id, error });
      }
    }
  }

  /** An IpcError a handler throws is its answer; anything else is a failure. */
  private handlerThrew(id: number, command: number, error: unknown): void {
    if (error instanceof IpcError) this.sendError(id, command, error);
    else this.handlerFailed(id, command, error);
  }

  /** Reports a handler failure and answers the caller without the failure's internals. */
  private handlerFailed(id: number, command: number, error: unknown): void {
    this.reportHandlerFailure(command, error);
    const definition = this.service!.definition;
    if (definition.exposeErrors === true) {
      this.sendError(id, command, error);
      return;
    }
    // An errno-style code (a system error's EACCES, say) tells the caller something; the text may not.
    const { code } = IpcError.from(error, 'EREMOTEIO');
    this.sendError(
      id,
      command,
      new IpcError(code, `service "${definition.name}" failed to handle command ${command}; the server reported why`),
    );
  }

  private reportHandlerFailure(command: number, error: unknown): void {
    this.service!.handlerFailed();
    this.host.handlerFailed(this, command, error);
  }

  private sendError(id: number, command: number, error: unknown): void {
    const failure = IpcError.from(error, 'EREMOTEIO');
    this.counters.errors++;
    if (failure.code === 'EBADMSG') this.counters.badMessages++;
    this.answeredSinceAsked = true;
    const queued = this.link.send(FrameKind.ErrorResponse, 0, id, encodeError(failure.code, failure.message));
    if (diagnostics.requestFinish.hasSubscribers) {
      const error = queued ? failure : answerDropped();
      diagnostics.requestFinish.publish({ connection: this.connection, command, id, error });
    }
  }

  private runDestroyedHook(): void {
    try {
      this.service!.definition.destroyed?.(this.connection!);
    } catch (error) {
      this.host.hookFailed('destroyed', error);
    }
  }
}

/** What a handler may answer with. */
type Answer = Uint8Array | MessageWithFds | void;

/** What a tracer hears of an answer that never left: its connection was closing or gone. */
function answerDropped(): IpcError {
  return new IpcError('ECONNRESET', 'the connection was closing or had ended: the answer was dropped');
}

function closedByServer(): IpcError {
  return endingReason('ECONNABORTED', 'connection closed by the server');
}

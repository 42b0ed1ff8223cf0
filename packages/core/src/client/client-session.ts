// ClientSession: one connection of a client, from handshake to close (client layer).
import { makeRequest, type ClientRequest, type OutgoingFds } from './client-request.js';
import { PendingTable } from './pending-table.js';
import { Deadline } from './deadline.js';
import { endingReason, IpcError } from '../errors.js';
import { fdLimit, FrameLink, LinkState, type LinkOwner } from '../link/frame-link.js';
import { keptCopy } from '../link/kept-copy.js';
import type { ReceivedFds } from '../link/received-fds.js';
import { FrameKind, EMPTY_PAYLOAD, MAX_FDS_PER_MESSAGE } from '../protocol/frame.js';
import { SessionState } from '../protocol/session-state.js';
import { decodeError, decodeGoodbye, decodeWelcome, EARLY_REQUEST_MAX } from '../protocol/handshake.js';
import type { Poller } from '../contracts/poller.js';
import type { Channel, Credentials } from '../contracts/transport.js';

/** Options of one request: a deadline and a cancellation signal. */
export interface RequestOptions {
  /** Reject with `ETIMEDOUT` if no response came after this many ms; a late response is discarded. */
  readonly timeout?: number;
  /** Reject with `ECANCELED` when aborted; a late response is discarded. */
  readonly signal?: AbortSignal;
  /**
   * Fds to pass with the request (`SCM_RIGHTS`), at most the server's `maxFdsPerMessage`. pollux
   * sends duplicates made when the request is made, so they stay yours to close at once.
   */
  readonly fds?: readonly number[];
}

/** A response with the fds that came with it (see `requestWithFds`): both are the caller's. */
export interface ReceivedMessage {
  /** The response payload. */
  readonly payload: Buffer;
  /** The fds the handler answered with, in order: open, close-on-exec, yours to close. */
  readonly fds: number[];
}

/** Counters of a client, summed over every connection it made. */
export interface ClientStats {
  /** Requests sent. */
  requests: number;
  /** Responses received, errors included. */
  responses: number;
  /** Events received. */
  events: number;
  /** Responses that arrived after their request timed out or was cancelled, and were discarded. */
  lateResponses: number;
  /** Bytes read from the server. */
  bytesIn: number;
  /** Bytes written to the server. */
  bytesOut: number;
  /** Connections made again after the server went away. */
  reconnects: number;
}

/** Where a client session reports what the application must see. */
export interface ClientSink {
  /** An event arrived; `fds` are closed once this returns, except those taken. */
  event(event: number, payload: Buffer, fds: ReceivedFds): void;
  /** The bytes waiting to be written went over the high-water mark (`true`) or back under it. */
  flowControl(on: boolean): void;
  closed(reason: IpcError): void;
}

/*
 * A session's life (its states: protocol/session-state.ts), above its link's (link/frame-link.ts):
 *
 *   handshaking ──welcome──▶ open ──close()──▶ draining ──no request pending──▶ closing ──▶ ended
 *        │                                                                        ▲
 *        └──refused, timeout, cancelled, hang-up──▶ ended           destroy() ────┴──▶ ended (from any state)
 *
 * A request pending when the session ends is rejected, never sent again: the server's goodbye,
 * if it said one, tells which of them never ran.
 */

/**
 * The client's engine half: the handshake, pipelined requests keyed by id, responses and events
 * in, and the rule that a request in flight when the connection drops is rejected, never resent.
 */
export class ClientSession implements LinkOwner {
  serviceId = 0;
  serviceName = '';
  maxMessage = 0;
  /** True while more than the high-water mark of bytes wait to be written. */
  flowControlled = false;
  /** True when the server refused this client in the handshake: a verdict, not a fault. */
  refused = false;
  /**
   * Whether frames after the welcome wait for {@link ClientSession.releaseFrames}: until the
   * caller holds the client and its listeners. A client whose caller held it from the start
   * (one that sends requests with its hello) needs no wait.
   */
  holdsFramesAtWelcome = true;
  readonly stats: ClientStats;
  private sessionState: SessionState = SessionState.Handshaking;
  private readonly link: FrameLink;
  private readonly channel: Channel;
  private readonly poller: Poller;
  private readonly pending = new PendingTable<ClientRequest>();
  private readonly address: string;
  /** The service the client asked for: its id, or its name. */
  private readonly service: number | string;
  private readonly sink: ClientSink;
  private handshakeDone: ((error?: IpcError) => void) | undefined;
  /** Frames after the welcome are held back until the caller holds the client. */
  private framesHeld = false;
  /** Why this side ended the connection, if it did: pending requests reject with it as is. */
  private localReason: IpcError | undefined;
  private readonly requestedMaxMessage: number;
  private readonly highWater: number;
  /** The most fds a message from the server may carry: what the hello offered, as the channel allows. */
  private readonly maxFds: number;
  /** Requests sent on this connection, modulo 2^32: the last one's {@link ClientRequest.sequence}. */
  private requestsSent = 0;
  /** From the server's goodbye: how many of this connection's requests it read. */
  private requestsReadByServer: number | undefined;
  private readonly closeIfDone = (): void => {
    if (this.sessionState === SessionState.Draining && this.pending.size === 0) this.sayGoodbye();
  };

  /**
   * @param service - the service asked for: the welcome must name it
   * @param stats - the client's counters, shared by its successive sessions
   * @param highWater - bytes waiting to be written beyond which the session is flow-controlled
   */
  constructor(
    address: string,
    service: number | string,
    channel: Channel,
    poller: Poller,
    sink: ClientSink,
    requestedMaxMessage: number,
    stats: ClientStats,
    highWater: number,
    maxFds: number,
  ) {
    this.channel = channel;
    this.poller = poller;
    this.address = address;
    this.service = service;
    this.sink = sink;
    this.requestedMaxMessage = requestedMaxMessage;
    this.stats = stats;
    this.highWater = highWater;
    // Never stops reading: responses are what frees the server, and events are small.
    this.link = new FrameLink(channel, poller, this, stats, 0, Number.POSITIVE_INFINITY);
    this.maxFds = fdLimit(channel, maxFds);
  }

  get state(): SessionState {
    return this.sessionState;
  }

  get isOpen(): boolean {
    return this.sessionState === SessionState.Open;
  }

  /** The most fds a request may carry, once the welcome said. */
  get peerMaxFds(): number {
    return this.link.peerMaxFds;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get credentials(): Credentials {
    return this.channel.credentials;
  }

  /** Sends the hello; resolves on the welcome, rejects on refusal, hang-up, timeout or abort. */
  handshake(hello: Buffer, timeout: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const deadline = new Deadline(
        this.poller,
        timeout,
        signal,
        () => this.destroy(new IpcError('ETIMEDOUT', `server did not complete the handshake within ${timeout} ms`)),
        () => this.destroy(new IpcError('ECANCELED', 'connect was cancelled')),
      );
      this.handshakeDone = (error) => {
        this.handshakeDone = undefined;
        deadline.cancel();
        if (error === undefined) resolve();
        else reject(error);
      };
      try {
        this.link.start();
        this.link.send(FrameKind.Hello, 0, 0, hello);
      } catch (error) {
        this.destroy(IpcError.from(error, 'EIO'));
        return;
      }
      if (signal?.aborted) this.destroy(new IpcError('ECANCELED', 'connect was cancelled'));
    });
  }

  /** Hands on frames that came with the welcome, once the caller holds the client. */
  releaseFrames(): void {
    if (!this.framesHeld) return;
    this.framesHeld = false;
    this.link.hold(false);
  }

  /**
   * Duplicates fds a request is to carry (see {@link FrameLink.duplicateFds}).
   *
   * @throws {@link IpcError} `ENOTSUP`, `EINVAL`, `EBADF` or `EMFILE`
   */
  duplicateFds(fds: readonly number[]): OutgoingFds {
    const link = this.link;
    return { fds: link.duplicateFds(fds), close: (copies) => link.closeFds(copies) };
  }

  /**
   * Whether a request of `size` bytes may be written now, before the welcome, right behind the
   * hello. Every server reads requests of up to {@link EARLY_REQUEST_MAX} bytes that follow a
   * hello, whatever the maximum it then agrees; a larger one waits to be checked against it.
   */
  takesEarly(size: number): boolean {
    return (
      this.sessionState === SessionState.Handshaking &&
      this.link.state === LinkState.Open &&
      !this.flowControlled &&
      size <= EARLY_REQUEST_MAX &&
      size <= this.requestedMaxMessage
    );
  }

  /** Queues a validated request; the returned promise settles with its response. */
  request(command: number, payload: Uint8Array, options: RequestOptions | undefined): Promise<Buffer> {
    const request = makeRequest(command);
    this.sendRequest(request, payload, options?.timeout, options?.signal);
    return request.promise;
  }

  /** Queues a validated request the caller already holds (one that waited to be sent). */
  sendRequest(
    request: ClientRequest,
    payload: Uint8Array,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
  ): void {
    // The caller holds the client and asks for answers: whatever came with the welcome is theirs.
    if (this.framesHeld) this.releaseFrames();
    const id = this.pending.add(request);
    request.sequence = this.requestsSent = (this.requestsSent + 1) >>> 0;
    if (timeout !== undefined || signal !== undefined) this.watch(id, request, timeout, signal);
    this.stats.requests++;
    const outgoing = request.outgoingFds;
    request.outgoingFds = undefined;
    this.link.send(FrameKind.Request, request.command, id, payload, outgoing?.fds);
    if (!this.flowControlled && this.link.queuedBytes > this.highWater) {
      this.flowControlled = true;
      this.sink.flowControl(true);
    }
  }

  /**
   * Closes gracefully: no new request; once none is pending, a goodbye and what is queued are
   * written and the connection ends. With `abandon`, pending requests reject with it now instead
   * of waiting for their answers. During the handshake it just ends.
   */
  close(abandon?: IpcError): void {
    const state = this.sessionState;
    if (state === SessionState.Handshaking) {
      this.destroy(abandon ?? new IpcError('ECONNABORTED', 'client closed the connection'));
      return;
    }
    if (state === SessionState.Open) this.sessionState = SessionState.Draining;
    else if (state !== SessionState.Draining) return;
    if (abandon !== undefined) {
      this.localReason ??= abandon;
      for (const id of this.pending.keys()) this.fail(id, abandon);
    }
    this.closeIfDone();
  }

  /** Ends the connection now with `reason`, writing nothing more: what is queued is dropped. */
  destroy(reason: IpcError): void {
    this.localReason ??= reason;
    this.link.destroy(reason);
  }

  frame(kind: number, code: number, id: number, payload: Buffer, fds: ReceivedFds): void {
    if (this.sessionState !== SessionState.Handshaking) {
      if (kind === FrameKind.Response) return this.settle(id, payload, false, fds);
      if (kind === FrameKind.ErrorResponse) return this.settle(id, payload, true, fds);
      if (kind === FrameKind.Event) return this.deliverEvent(code, payload, fds);
      if (kind === FrameKind.Goodbye) {
        this.requestsReadByServer = decodeGoodbye(payload);
        return this.link.destroy(endingReason('ESHUTDOWN', `server at ${this.address} closed the connection`));
      }
    } else if (kind === FrameKind.Welcome) {
      const welcome = decodeWelcome(payload);
      if (welcome.maxMessage > this.requestedMaxMessage || welcome.maxMessage < 1) {
        throw new IpcError(
          'EPROTO',
          `server agreed a message size of ${welcome.maxMessage} bytes, outside the 1–${this.requestedMaxMessage} asked for`,
        );
      }
      const wanted = this.service;
      if (typeof wanted === 'string' ? welcome.serviceName !== wanted : welcome.serviceId !== wanted) {
        throw new IpcError(
          'EPROTO',
          `server at ${this.address} welcomed this client to service ${welcome.serviceId} ${JSON.stringify(welcome.serviceName)}, not the ${typeof wanted === 'string' ? `service named ${JSON.stringify(wanted)}` : `service ${wanted}`} it asked for: it is broken or not the server meant`,
        );
      }
      this.serviceId = welcome.serviceId;
      this.serviceName = welcome.serviceName;
      this.maxMessage = welcome.maxMessage;
      this.link.maxMessage = welcome.maxMessage;
      this.link.peerMaxFds = Math.min(welcome.maxFds, MAX_FDS_PER_MESSAGE);
      this.link.acceptFds(this.maxFds);
      this.sessionState = SessionState.Open;
      // Frames after the welcome (events from the service's created hook) wait until the caller
      // has the client and its listeners: connect() releases them.
      if (this.holdsFramesAtWelcome) {
        this.framesHeld = true;
        this.link.hold(true);
      }
      this.handshakeDone?.();
      return;
    } else if (kind === FrameKind.Refuse) {
      this.refused = true;
      this.link.destroy(decodeError(payload));
      return;
    }
    throw new IpcError('EPROTO', `unexpected frame of kind ${kind} from server`);
  }

  admitsNext(): boolean {
    return true;
  }

  readLimit(): number {
    return Number.POSITIVE_INFINITY;
  }

  inputChanged(): void {}

  outputBlocked(): void {}

  expectsPeer(): boolean {
    return this.pending.size > 0;
  }

  flushed(queuedBytes: number): void {
    if (this.flowControlled && queuedBytes <= this.highWater) {
      this.flowControlled = false;
      this.sink.flowControl(false);
    }
  }

  ended(error: IpcError): void {
    this.sessionState = SessionState.Ended;
    if (this.handshakeDone !== undefined) {
      const failure =
        error.code === 'ECONNRESET'
          ? new IpcError('ECONNRESET', `server closed the connection during the handshake: ${error.message}`, {
              cause: error,
            })
          : error;
      this.failEarly(failure);
      this.handshakeDone(failure);
      return;
    }
    if (error === this.localReason) {
      for (const id of this.pending.keys()) this.fail(id, error);
    } else {
      this.failPending(error);
    }
    // Nothing waits to be written any more.
    if (this.flowControlled) {
      this.flowControlled = false;
      this.sink.flowControl(false);
    }
    this.sink.closed(error);
  }

  /**
   * The handshake failed under requests written with the hello: each rejects with the handshake's
   * code. A refused hello ran none of them (the server reads no request after refusing).
   */
  private failEarly(failure: IpcError): void {
    if (this.pending.size === 0) return;
    const error = this.refused
      ? new IpcError(
          failure.code,
          `server at ${this.address} refused the connection, so the request did not run: ${failure.message}`,
          { cause: failure },
        )
      : new IpcError(
          failure.code,
          `connection to ${this.address} failed in its handshake, before the response (${failure.message}); the request may or may not have run`,
          { cause: failure },
        );
    for (const id of this.pending.keys()) this.fail(id, error);
  }

  /**
   * The connection ended under the pending requests. A server's goodbye says how many requests it
   * read: those past the count never ran (safe to send again); the rest were cut off while
   * running. Without a count nothing tells, and the caller must assume either.
   */
  private failPending(error: IpcError): void {
    const read = this.requestsReadByServer;
    const address = this.address;
    let notRun: IpcError | undefined;
    let cutOff: IpcError | undefined;
    for (const id of this.pending.keys()) {
      const request = this.take(id)!;
      // Modular distance: sequences wrap at 2^32, pending requests span far less.
      if (read !== undefined && ((request.sequence - read) | 0) > 0) {
        notRun ??= new IpcError(
          'ESHUTDOWN',
          `server at ${address} closed the connection before reading the request: it did not run, so it is safe to send again`,
          { cause: error },
        );
        request.reject(notRun);
      } else {
        cutOff ??=
          read !== undefined
            ? new IpcError(
                'ECONNRESET',
                `server at ${address} closed the connection while the request was being handled: it may or may not have run`,
                { cause: error },
              )
            : new IpcError(
                'ECONNRESET',
                `connection to ${address} lost before the response (${error.code}: ${error.message}); the request may or may not have run`,
                { cause: error },
              );
        request.reject(cutOff);
      }
    }
  }

  private watch(
    id: number,
    request: ClientRequest,
    timeout: number | undefined,
    signal: AbortSignal | undefined,
  ): void {
    request.signal = signal;
    request.deadline = new Deadline(
      this.poller,
      timeout,
      signal,
      () =>
        this.fail(
          id,
          new IpcError(
            'ETIMEDOUT',
            `no response to command ${request.command} within ${timeout} ms; a late one will be discarded`,
          ),
        ),
      () =>
        this.fail(
          id,
          new IpcError(
            'ECANCELED',
            `request for command ${request.command} was cancelled; a late response will be discarded`,
          ),
        ),
    );
  }

  private settle(id: number, payload: Buffer, isError: boolean, fds: ReceivedFds): void {
    // Decoded before the request leaves the pending set: a malformed error frame ends the
    // connection, and the request must still be there to be rejected with the rest.
    const failure = isError ? decodeError(payload) : undefined;
    const request = this.take(id);
    if (request === undefined) {
      this.stats.lateResponses++;
      fds.closeUntaken();
      return;
    }
    this.stats.responses++;
    if (failure !== undefined) {
      request.reject(failure);
      return;
    }
    // Only a caller that asked for fds gets them; a plain request() leaves none open.
    if (request.wantsFds) request.receivedFds = fds.takeAll();
    else fds.closeUntaken();
    const into = request.into;
    if (into !== undefined) {
      if (payload.length > into.length) {
        request.reject(
          new IpcError(
            'EMSGSIZE',
            `response of ${payload.length} bytes does not fit the ${into.length}-byte buffer given to requestInto: it was dropped; pass a buffer of maxMessageSize bytes`,
          ),
        );
        return;
      }
      into.set(payload);
      request.resolve(Buffer.from(into.buffer, into.byteOffset, payload.length));
      return;
    }
    // A lent payload is valid only until this returns; the caller's continuation runs later.
    request.resolve(this.link.payloadLent ? keptCopy(payload) : payload);
  }

  private fail(id: number, error: IpcError): void {
    this.take(id)?.reject(error);
  }

  private take(id: number): ClientRequest | undefined {
    const request = this.pending.take(id);
    if (request === undefined) return undefined;
    request.unwatch();
    if (this.sessionState === SessionState.Draining && this.pending.size === 0) this.poller.job(this.closeIfDone);
    return request;
  }

  /** The end of a graceful close: the goodbye, then the link drains and ends. */
  private sayGoodbye(): void {
    this.sessionState = SessionState.Closing;
    const reason = this.localReason ?? endingReason('ECONNABORTED', 'client closed the connection');
    this.localReason ??= reason;
    this.link.close(reason, EMPTY_PAYLOAD);
  }

  private deliverEvent(event: number, payload: Buffer, fds: ReceivedFds): void {
    this.stats.events++;
    try {
      this.sink.event(event, payload, fds);
      fds.closeUntaken();
    } catch (error) {
      fds.closeUntaken();
      // A listener's bug is the application's, not the connection's: surface it like Node would.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

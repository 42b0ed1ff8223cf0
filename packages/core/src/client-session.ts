import { IpcError } from './errors.js';
import { FramedChannel } from './framed-channel.js';
import { FrameKind } from './frame.js';
import { decodeError, decodeWelcome } from './handshake.js';
import type { Poller } from './poller.js';
import type { Channel, Credentials } from './transport.js';

/** Options of one request: a deadline and a cancellation signal. */
export interface RequestOptions {
  /** Reject with `ETIMEDOUT` if no response came after this many ms; a late response is discarded. */
  readonly timeout?: number;
  /** Reject with `ECANCELED` when aborted; a late response is discarded. */
  readonly signal?: AbortSignal;
}

/** Counters of a client connection. */
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
}

/** Where a client session reports what the application must see. */
export interface ClientSink {
  event(event: number, payload: Buffer): void;
  closed(reason: IpcError): void;
}

class PendingRequest {
  resolve!: (payload: Buffer) => void;
  reject!: (error: IpcError) => void;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  constructor(readonly command: number) {}
}

// One shared executor instead of a closure per request: `new Promise` calls it synchronously.
let capturing: PendingRequest | undefined;
function capture(resolve: (payload: Buffer) => void, reject: (error: IpcError) => void): void {
  capturing!.resolve = resolve;
  capturing!.reject = reject;
}

/**
 * The client's engine half: the handshake, pipelined requests keyed by id, responses and events
 * in, and the rule that a request in flight when the connection drops is rejected, never resent.
 */
export class ClientSession extends FramedChannel {
  serviceId = 0;
  serviceName = '';
  maxMessage = 0;
  readonly stats: ClientStats = { requests: 0, responses: 0, events: 0, lateResponses: 0, bytesIn: 0, bytesOut: 0 };
  protected readonly traffic = this.stats;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly address: string;
  private readonly sink: ClientSink;
  private nextId = 0;
  private opened = false;
  private closeWhenIdle = false;
  private handshakeDone: ((error?: IpcError) => void) | undefined;
  /** Why this side ended the connection, if it did: pending requests reject with it as is. */
  private localReason: IpcError | undefined;
  private readonly requestedMaxMessage: number;

  constructor(address: string, channel: Channel, poller: Poller, sink: ClientSink, requestedMaxMessage: number) {
    super(channel, poller, 0, Number.POSITIVE_INFINITY);
    this.address = address;
    this.sink = sink;
    this.requestedMaxMessage = requestedMaxMessage;
  }

  get isOpen(): boolean {
    return this.opened && !this.ended && !this.isClosing;
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
      const onAbort = (): void => this.shutdown(new IpcError('ECANCELED', 'connect was cancelled'));
      const timer = setTimeout(() => {
        this.shutdown(new IpcError('ETIMEDOUT', `server did not complete the handshake within ${timeout} ms`));
      }, timeout);
      this.handshakeDone = (error) => {
        this.handshakeDone = undefined;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      try {
        this.startPolling();
        this.send(FrameKind.Hello, 0, 0, hello);
      } catch (error) {
        this.shutdown(IpcError.from(error, 'EIO'));
        return;
      }
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Hands on frames that came with the welcome, once the caller holds the client. */
  releaseFrames(): void {
    this.holdFrames(false);
  }

  /** Queues a validated request; the returned promise settles with its response. */
  request(command: number, payload: Uint8Array, options: RequestOptions | undefined): Promise<Buffer> {
    let id = this.nextId;
    do id = (id + 1) >>> 0;
    while (this.pending.has(id));
    this.nextId = id;
    const request = new PendingRequest(command);
    capturing = request;
    const promise = new Promise<Buffer>(capture);
    capturing = undefined;
    this.pending.set(id, request);
    if (options !== undefined) this.watch(id, request, options);
    this.stats.requests++;
    this.send(FrameKind.Request, command, id, payload);
    return promise;
  }

  /** Ends the connection once no request is pending. */
  closeWhenDone(): void {
    this.closeWhenIdle = true;
    if (this.pending.size === 0) this.shutdown(new IpcError('ECONNABORTED', 'client closed the connection'));
  }

  /** Writes what the kernel takes now, then ends the connection with `reason`. */
  shutdown(reason: IpcError): void {
    this.localReason ??= reason;
    this.closeGracefully(reason, this.opened);
  }

  protected onFrame(kind: number, code: number, id: number, payload: Buffer): void {
    if (this.opened) {
      if (kind === FrameKind.Response) return this.settle(id, payload, false);
      if (kind === FrameKind.ErrorResponse) return this.settle(id, payload, true);
      if (kind === FrameKind.Event) return this.deliverEvent(code, payload);
      if (kind === FrameKind.Goodbye) return this.end(new IpcError('ESHUTDOWN', `server at ${this.address} closed the connection`));
    } else if (kind === FrameKind.Welcome) {
      const welcome = decodeWelcome(payload);
      if (welcome.maxMessage > this.requestedMaxMessage || welcome.maxMessage < 1) {
        throw new IpcError('EPROTO', `server agreed a message size of ${welcome.maxMessage} bytes, outside the 1–${this.requestedMaxMessage} asked for`);
      }
      this.serviceId = welcome.serviceId;
      this.serviceName = welcome.serviceName;
      this.maxMessage = welcome.maxMessage;
      this.decoder.maxMessage = welcome.maxMessage;
      this.opened = true;
      // Frames after the welcome (events from the service's created hook) wait until the caller
      // has the client and its listeners: connect() releases them.
      this.holdFrames(true);
      this.handshakeDone?.();
      return;
    } else if (kind === FrameKind.Refuse) {
      this.end(decodeError(payload));
      return;
    }
    throw new IpcError('EPROTO', `unexpected frame of kind ${kind} from server`);
  }

  protected onEnd(error: IpcError): void {
    if (this.handshakeDone !== undefined) {
      this.handshakeDone(
        error.code === 'ECONNRESET' ? new IpcError('ECONNRESET', 'server closed the connection during the handshake', { cause: error }) : error,
      );
      return;
    }
    const lost =
      error === this.localReason
        ? error
        : new IpcError(
            'ECONNRESET',
            `connection to ${this.address} lost before the response (${error.code}: ${error.message}); the request may or may not have run`,
            { cause: error },
          );
    for (const id of [...this.pending.keys()]) this.fail(id, lost);
    this.sink.closed(error);
  }

  private watch(id: number, request: PendingRequest, options: RequestOptions): void {
    const { timeout, signal } = options;
    if (timeout !== undefined) {
      request.timer = setTimeout(() => {
        this.fail(id, new IpcError('ETIMEDOUT', `no response to command ${request.command} within ${timeout} ms; a late one will be discarded`));
      }, timeout);
    }
    if (signal !== undefined) {
      request.signal = signal;
      request.onAbort = () =>
        this.fail(id, new IpcError('ECANCELED', `request for command ${request.command} was cancelled; a late response will be discarded`));
      signal.addEventListener('abort', request.onAbort, { once: true });
    }
  }

  private settle(id: number, payload: Buffer, isError: boolean): void {
    // Decoded before the request leaves the pending set: a malformed error frame ends the
    // connection, and the request must still be there to be rejected with the rest.
    const failure = isError ? decodeError(payload) : undefined;
    const request = this.take(id);
    if (request === undefined) {
      this.stats.lateResponses++;
      return;
    }
    this.stats.responses++;
    if (failure !== undefined) request.reject(failure);
    else request.resolve(payload);
  }

  private fail(id: number, error: IpcError): void {
    this.take(id)?.reject(error);
  }

  private take(id: number): PendingRequest | undefined {
    const request = this.pending.get(id);
    if (request === undefined) return undefined;
    this.pending.delete(id);
    if (request.timer !== undefined) clearTimeout(request.timer);
    if (request.onAbort !== undefined) request.signal!.removeEventListener('abort', request.onAbort);
    if (this.closeWhenIdle && this.pending.size === 0) this.poller.job(() => this.closeWhenDone());
    return request;
  }

  private deliverEvent(event: number, payload: Buffer): void {
    this.stats.events++;
    try {
      this.sink.event(event, payload);
    } catch (error) {
      // A listener's bug is the application's, not the connection's: surface it like Node would.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

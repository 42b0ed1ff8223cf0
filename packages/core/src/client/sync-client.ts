// SyncClient: a blocking client for programs without an event loop (client layer).
import { EAGAIN, ECONNRESET, EPIPE, IpcError } from '../errors.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { CONTROL_PAYLOAD_MAX, FrameKind, isUint16, MAX_MESSAGE_SIZE_LIMIT, EMPTY_PAYLOAD } from '../protocol/frame.js';
import { decodeError, decodeWelcome, helloFor } from '../protocol/handshake.js';
import { count, deadline, duration, messageSize, serviceChoice } from '../option-checks.js';
import { Ready, type ReadyMask } from '../contracts/poller.js';
import { SendQueue } from '../link/send-queue.js';
import type { Channel, Credentials } from '../contracts/transport.js';

/**
 * Blocks until `fd` is ready for `interest` ({@link Ready} bits) or `timeoutMs` passed
 * (`-1`: no limit), as `poll(2)` does.
 *
 * @returns the {@link Ready} bits that are set (`HangUp` and `Error` included), 0 on timeout, or
 * a negative errno
 */
export type WaitForFd = (fd: number, interest: ReadyMask, timeoutMs: number) => number;

/** A transport that can connect without an event loop (a Unix socket connects at once). */
export interface SyncConnector {
  /**
   * Connects to `address` and returns the channel at once.
   *
   * @throws {@link IpcError} `ENOENT` or `ECONNREFUSED` when nothing listens at `address`.
   */
  connectSync(address: string): Channel;
}

/** Options of {@link SyncClient.connect}. */
export interface SyncClientOptions {
  /** The service to talk to: its id (0–65535) or its name. */
  readonly service: number | string;
  /** How to reach the server. */
  readonly transport: SyncConnector;
  /** How to block on the connection's fd (`poll(2)`). */
  readonly wait: WaitForFd;
  /** Largest message this client wants to handle; the server may agree a smaller one. Default: the server's. */
  readonly maxMessageSize?: number;
  /** Give up when the handshake has not completed after this many ms. Default 5000. */
  readonly timeout?: number;
  /**
   * Events kept for {@link SyncClient.nextEvent} while nobody reads them; beyond this the oldest
   * is dropped and counted in `droppedEvents`. Default 1024.
   */
  readonly eventQueueLimit?: number;
}

/** Options of {@link SyncClient.request}. */
export interface SyncRequestOptions {
  /** Throw `ETIMEDOUT` when no response came after this many ms; a late one is discarded. Default: wait as long as it takes. */
  readonly timeout?: number;
}

/** An event the server sent, as queued by a {@link SyncClient}. */
export interface ReceivedEvent {
  /** The event id. */
  readonly event: number;
  /** Its payload. */
  readonly payload: Buffer;
}

/** Counters of a {@link SyncClient}. */
export interface SyncClientStats {
  /** Requests sent. */
  requests: number;
  /** Responses received, errors included. */
  responses: number;
  /** Responses that came after their request timed out, discarded. */
  lateResponses: number;
  /** Events received. */
  events: number;
  /** Events dropped because `eventQueueLimit` were already queued. */
  droppedEvents: number;
  /** Bytes read from the server. */
  bytesIn: number;
  /** Bytes written to the server. */
  bytesOut: number;
}

const NO_ID = -1;

/**
 * A blocking client for programs with no event loop to return to: a command-line tool, an
 * install hook, a configuration read at `require` time (coroipc's `msg_send_reply_receive`).
 * Each call blocks the thread until its answer or its timeout; nothing runs in between, no
 * promise is made, no turn of the event loop is needed. It speaks the same protocol to the same
 * servers as {@link IpcClient}, one request at a time.
 *
 * Events that arrive while a call waits are queued, never taken for the response; read them
 * with {@link SyncClient.nextEvent}.
 */
export class SyncClient {
  /** Where the client is connected. */
  readonly address: string;
  readonly #channel: Channel;
  readonly #wait: WaitForFd;
  readonly #decoder: FrameDecoder;
  readonly #sendQueue = new SendQueue();
  readonly #events: ReceivedEvent[] = [];
  readonly #eventQueueLimit: number;
  readonly #stats: SyncClientStats = {
    requests: 0,
    responses: 0,
    lateResponses: 0,
    events: 0,
    droppedEvents: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  #serviceId = 0;
  #serviceName = '';
  #maxMessage = 0;
  #nextId = 1;
  /** The request waiting for its answer, or {@link NO_ID}. */
  #awaitedId = NO_ID;
  #answer: Buffer | IpcError | undefined;
  /** Why the connection ended, once it has. */
  #ended: IpcError | undefined;

  private constructor(
    address: string,
    channel: Channel,
    wait: WaitForFd,
    requestedMaxMessage: number,
    eventQueueLimit: number,
  ) {
    this.address = address;
    this.#channel = channel;
    this.#wait = wait;
    this.#decoder = new FrameDecoder(0);
    this.#maxMessage = requestedMaxMessage;
    this.#eventQueueLimit = eventQueueLimit;
  }

  /**
   * Connects to `service` at `address` and completes the handshake, blocking until done.
   *
   * @throws {@link IpcError} `ECONNREFUSED` or `ENOENT` when no server listens at `address`;
   * `ENXIO` when the server has no such service; `EACCES` (or the code the service's `accept`
   * hook chose) when refused; `EPROTONOSUPPORT` on a protocol version mismatch; `ETIMEDOUT`
   * when the handshake took longer than `timeout`; `ECONNRESET` when the server hung up during
   * it; `EINVAL` for bad options.
   */
  static connect(address: string, options: SyncClientOptions): SyncClient {
    const service = serviceChoice(options.service);
    const maxMessage = messageSize(options.maxMessageSize ?? MAX_MESSAGE_SIZE_LIMIT);
    const timeout = duration('timeout', options.timeout ?? 5000);
    const eventQueueLimit = count('eventQueueLimit', options.eventQueueLimit ?? 1024);
    const channel = options.transport.connectSync(address);
    const client = new SyncClient(address, channel, options.wait, maxMessage, eventQueueLimit);
    try {
      client.#handshake(helloFor(service, maxMessage, 0), timeout);
    } catch (error) {
      client.#end(IpcError.from(error, 'EIO'));
      throw error;
    }
    return client;
  }

  /** The service's id, as the server confirmed it. */
  get serviceId(): number {
    return this.#serviceId;
  }

  /** The service's name, as the server confirmed it. */
  get serviceName(): string {
    return this.#serviceName;
  }

  /** Largest request payload the server accepts on this connection. */
  get maxMessageSize(): number {
    return this.#maxMessage;
  }

  /** The server process's credentials, as the kernel reported them. */
  get serverCredentials(): Credentials {
    return this.#channel.credentials;
  }

  /** Whether the connection is up: false once it ended or was closed. */
  get isOpen(): boolean {
    return this.#ended === undefined;
  }

  /** Events received and not yet taken with {@link SyncClient.nextEvent}. */
  get queuedEvents(): number {
    return this.#events.length;
  }

  /** Counters of this client. */
  get stats(): Readonly<SyncClientStats> {
    return this.#stats;
  }

  /**
   * Sends a request and blocks until its response. Events that arrive meanwhile are queued.
   *
   * @param command - command id, 0–65535
   * @param payload - request payload
   * @param options - a timeout
   * @returns the response payload
   * @throws {@link IpcError} `EMSGSIZE` when `payload` exceeds {@link SyncClient.maxMessageSize}
   * (nothing is sent), `EINVAL` for a bad command id or timeout, `ENOSYS` when the service has no
   * such command, `ETIMEDOUT` when no response came in time (the client stays usable),
   * `ECONNRESET` when the connection ended before the response (its `cause` says how: `ESHUTDOWN`
   * when the server closed it on purpose), `ENOTCONN` once the connection has ended or was
   * closed, or the code the server's handler threw.
   */
  request(command: number, payload: Uint8Array = EMPTY_PAYLOAD, options: SyncRequestOptions = {}): Buffer {
    if (!isUint16(command)) throw new IpcError('EINVAL', `command id ${command} is not an integer in 0–65535`);
    if (!(payload instanceof Uint8Array)) throw new IpcError('EINVAL', 'payload must be a Uint8Array or Buffer');
    const timeout = deadline('timeout', options.timeout ?? Number.POSITIVE_INFINITY);
    this.#checkOpen();
    if (payload.length > this.#maxMessage) {
      throw new IpcError(
        'EMSGSIZE',
        `request of ${payload.length} bytes exceeds the agreed maximum of ${this.#maxMessage} bytes: nothing was sent`,
      );
    }
    const id = this.#nextId;
    this.#nextId = id === 0xffffffff ? 1 : id + 1;
    this.#awaitedId = id;
    this.#answer = undefined;
    this.#stats.requests++;
    this.#sendQueue.push(FrameKind.Request, command, id, payload);
    let answered: boolean;
    try {
      answered = this.#pump(performance.now() + timeout, () => this.#answer !== undefined);
    } catch (error) {
      throw this.#lost(error);
    } finally {
      this.#awaitedId = NO_ID;
    }
    if (!answered)
      throw new IpcError(
        'ETIMEDOUT',
        `no response to command ${command} within ${timeout} ms; a late one will be discarded`,
      );
    const answer = this.#answer!;
    this.#answer = undefined;
    if (answer instanceof IpcError) throw answer;
    return answer;
  }

  /**
   * Takes the oldest queued event, waiting up to `timeoutMs` for one when none is queued.
   *
   * @param timeoutMs - how long to wait; 0 (the default) only looks at what has arrived
   * @returns the event, or undefined when none came in time
   * @throws {@link IpcError} `ENOTCONN` when no event is left and the connection has ended (its
   * `cause` says how) or was closed; `ESHUTDOWN`, `ECONNRESET` or `EPROTO` when it ends during
   * the wait.
   */
  nextEvent(timeoutMs = 0): ReceivedEvent | undefined {
    const waitFor = timeoutMs === 0 ? 0 : deadline('timeoutMs', timeoutMs);
    if (this.#events.length === 0) this.#pump(performance.now() + waitFor, () => this.#events.length > 0);
    return this.#events.shift();
  }

  /** Says goodbye to the server (as far as the kernel takes it now) and closes. Idempotent. */
  close(): void {
    if (this.#ended !== undefined) return;
    this.#sendQueue.push(FrameKind.Goodbye, 0, 0, EMPTY_PAYLOAD);
    this.#sendQueue.flush(this.#channel);
    this.#end(new IpcError('ENOTCONN', `client closed its connection to ${this.address}`));
  }

  /** {@link SyncClient.close}, for `using client = connectSync(…)`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #checkOpen(): void {
    const reason = this.#ended;
    if (reason === undefined) return;
    if (reason.code === 'ENOTCONN') throw reason;
    throw new IpcError(
      'ENOTCONN',
      `connection to ${this.address} has ended (${reason.code}: ${reason.message}): connect again`,
      { cause: reason },
    );
  }

  #handshake(hello: Buffer, timeout: number): void {
    this.#sendQueue.push(FrameKind.Hello, 0, 0, hello);
    this.#decoder.maxMessage = CONTROL_PAYLOAD_MAX;
    let welcomed: boolean;
    try {
      welcomed = this.#pump(performance.now() + timeout, () => this.#serviceName !== '');
    } catch (error) {
      if (error instanceof IpcError && error.code === 'ECONNRESET') {
        throw new IpcError('ECONNRESET', `server at ${this.address} closed the connection during the handshake`, {
          cause: error,
        });
      }
      throw error;
    }
    if (!welcomed)
      throw new IpcError('ETIMEDOUT', `server at ${this.address} did not complete the handshake within ${timeout} ms`);
  }

  /**
   * Writes what is queued and reads frames until `done()` holds, blocking in `wait` between; the
   * fd is polled at least once, however close `until` is.
   *
   * @returns false when `until` passed first
   * @throws {@link IpcError} the reason when the connection ended.
   */
  #pump(until: number, done: () => boolean): boolean {
    const decoder = this.#decoder;
    for (let polled = false; ; polled = true) {
      try {
        while (!done() && decoder.next()) this.#onFrame(decoder.kind, decoder.code, decoder.id, decoder.payload);
      } catch (error) {
        throw this.#end(IpcError.from(error, 'EPROTO'));
      }
      if (done()) return true;
      this.#checkOpen();
      const left = until - performance.now();
      if (left <= 0 && polled) return false;
      // Always read while writing: a server that cannot hand us its events stops reading us.
      const interest = Ready.Readable | (this.#sendQueue.bytes > 0 ? Ready.Writable : 0);
      const ready = this.#wait(
        this.#channel.fd,
        interest,
        left === Number.POSITIVE_INFINITY ? -1 : Math.max(0, Math.ceil(left)),
      );
      if (ready < 0) throw this.#end(IpcError.fromErrno(ready, `waiting on the connection to ${this.address}`));
      if (ready & Ready.Writable) this.#flush();
      if (ready & (Ready.Readable | Ready.HangUp | Ready.Error)) this.#readOnce();
    }
  }

  #flush(): void {
    const queue = this.#sendQueue;
    const before = queue.bytes;
    const status = queue.flush(this.#channel);
    this.#stats.bytesOut += before - queue.bytes;
    if (status < 0) throw this.#end(this.#ioError(status, 'write to'));
  }

  #readOnce(): void {
    const decoder = this.#decoder;
    decoder.reserve();
    const n = this.#channel.read(decoder.buffer, decoder.end, decoder.space);
    if (n > 0) {
      decoder.commit(n);
      this.#stats.bytesIn += n;
    } else if (n === 0) {
      throw this.#end(
        decoder.pending > 0
          ? new IpcError('EPROTO', `server at ${this.address} closed the connection in the middle of a frame`)
          : this.#ioError(ECONNRESET, 'read from'),
      );
    } else if (n !== EAGAIN) {
      throw this.#end(this.#ioError(n, 'read from'));
    }
  }

  #onFrame(kind: number, code: number, id: number, payload: Buffer): void {
    if (this.#serviceName === '') {
      if (kind === FrameKind.Welcome) return this.#welcome(payload);
      if (kind === FrameKind.Refuse) throw this.#end(decodeError(payload));
    } else if (kind === FrameKind.Response || kind === FrameKind.ErrorResponse) {
      // Decoded first: a malformed error frame is a protocol error whichever request it answers.
      const answer = kind === FrameKind.ErrorResponse ? decodeError(payload) : payload;
      if (id !== this.#awaitedId) {
        this.#stats.lateResponses++;
        return;
      }
      this.#stats.responses++;
      this.#answer = answer;
      return;
    } else if (kind === FrameKind.Event) {
      this.#stats.events++;
      if (this.#events.length >= this.#eventQueueLimit) {
        this.#events.shift();
        this.#stats.droppedEvents++;
      }
      if (this.#eventQueueLimit > 0) this.#events.push({ event: code, payload });
      return;
    } else if (kind === FrameKind.Goodbye) {
      throw this.#end(new IpcError('ESHUTDOWN', `server at ${this.address} closed the connection`));
    }
    throw this.#end(new IpcError('EPROTO', `unexpected frame of kind ${kind} from the server at ${this.address}`));
  }

  #welcome(payload: Buffer): void {
    const welcome = decodeWelcome(payload);
    if (welcome.maxMessage > this.#maxMessage || welcome.maxMessage < 1 || welcome.serviceName === '') {
      throw this.#end(
        new IpcError(
          'EPROTO',
          `server agreed a message size of ${welcome.maxMessage} bytes, outside the 1–${this.#maxMessage} asked for`,
        ),
      );
    }
    this.#serviceId = welcome.serviceId;
    this.#serviceName = welcome.serviceName;
    this.#maxMessage = welcome.maxMessage;
    this.#decoder.maxMessage = welcome.maxMessage;
  }

  /** A failure while a request was out: the caller must know it may or may not have run. */
  #lost(error: unknown): IpcError {
    const reason = IpcError.from(error, 'EIO');
    if (reason.code === 'ENOTCONN') return reason;
    return new IpcError(
      'ECONNRESET',
      `connection to ${this.address} lost before the response (${reason.code}: ${reason.message}); the request may or may not have run`,
      {
        cause: reason,
      },
    );
  }

  #ioError(errno: number, what: string): IpcError {
    if (errno === ECONNRESET || errno === EPIPE) {
      return new IpcError(
        'ECONNRESET',
        `server at ${this.address} went away without saying goodbye: it crashed, was killed or closed its socket`,
      );
    }
    return IpcError.fromErrno(errno, `${what} ${this.address}`);
  }

  /** Ends the connection once, closing the channel; returns the reason for the caller to throw. */
  #end(reason: IpcError): IpcError {
    if (this.#ended === undefined) {
      this.#ended = reason;
      this.#channel.close();
    }
    return this.#ended;
  }
}

import { EventEmitter } from 'eventemitter3';
import { ClientSession, type ClientSink, type ClientStats, type RequestOptions } from './client-session.js';
import { IpcError } from './errors.js';
import { MAX_MESSAGE_SIZE_LIMIT } from './frame.js';
import { encodeHello, PROTOCOL_VERSION, SERVICE_BY_NAME, SERVICE_NAME_MAX } from './handshake.js';
import type { Poller } from './poller.js';
import { isUint16 } from './service-registry.js';
import type { IpcServer } from './server.js';
import type { Credentials, Transport } from './transport.js';

/** Options of {@link IpcClient.connect}. */
export interface IpcClientOptions {
  /** The service to talk to: its id (0–65535) or its name. */
  readonly service: number | string;
  /** The event loop that drives this client. */
  readonly poller: Poller;
  /** How to reach the server (e.g. Unix sockets). */
  readonly transport: Transport;
  /** Largest message this client wants to handle; the server may agree a smaller one. Default: the server's. */
  readonly maxMessageSize?: number;
  /** Give up when the handshake has not completed after this many ms. Default 5000. */
  readonly timeout?: number;
  /** Aborts the connection attempt. */
  readonly signal?: AbortSignal;
}

/** Events of {@link IpcClient}. */
export interface IpcClientEvents {
  /** The server sent an event. `payload` stays valid for as long as it is referenced. */
  event: [event: number, payload: Buffer];
  /**
   * The connection ended; every request still pending has been rejected. `reason.code` is
   * `ESHUTDOWN` when the server closed it on purpose, `ECONNRESET` when the server went away
   * without a goodbye, `ECONNABORTED` when this client closed it.
   */
  close: [reason: IpcError];
}

const EMPTY = new Uint8Array(0);

/**
 * A connection to one service of an {@link IpcServer}: pipelined requests with ids, and
 * server-sent events. Make one with {@link IpcClient.connect}.
 *
 * Requests are at-most-once: a request in flight when the connection drops rejects with
 * `ECONNRESET` and is never sent again, so the caller decides whether to retry.
 */
export class IpcClient extends EventEmitter<IpcClientEvents> {
  /** Where the client connected. */
  readonly address: string;
  readonly #session: ClientSession;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;
  #closing: Promise<void> | undefined;
  readonly #sink = {
    event: (event: number, payload: Buffer): void => {
      this.emit('event', event, payload);
    },
    closed: (reason: IpcError): void => {
      this.#markClosed();
      this.emit('close', reason);
    },
  };

  private constructor(address: string, makeSession: (sink: ClientSink) => ClientSession) {
    super();
    this.address = address;
    this.#closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
    this.#session = makeSession(this.#sink);
  }

  /**
   * Connects to `service` at `address` and completes the handshake.
   *
   * @throws {@link IpcError} `ECONNREFUSED` or `ENOENT` when no server listens at `address`;
   * `ENOENT` when the server has no such service; `EACCES` (or the code the service's `accept`
   * hook chose) when refused; `EPROTONOSUPPORT` on a protocol version mismatch; `ETIMEDOUT` when the
   * handshake took longer than `timeout`; `ECANCELED` when `signal` aborted; `EINVAL` for bad options.
   */
  static async connect(address: string, options: IpcClientOptions): Promise<IpcClient> {
    const { service, poller, transport } = options;
    const byName = typeof service === 'string';
    if (byName ? service === '' || Buffer.byteLength(service) > SERVICE_NAME_MAX : !isUint16(service)) {
      throw new IpcError('EINVAL', `service must be an id in 0–65535 or a name of 1–${SERVICE_NAME_MAX} bytes, got ${String(service)}`);
    }
    const maxMessage = options.maxMessageSize ?? MAX_MESSAGE_SIZE_LIMIT;
    if (!Number.isInteger(maxMessage) || maxMessage < 1 || maxMessage > MAX_MESSAGE_SIZE_LIMIT) {
      throw new IpcError('EINVAL', `maxMessageSize must be an integer in 1–${MAX_MESSAGE_SIZE_LIMIT}`);
    }
    if (options.signal?.aborted) throw new IpcError('ECANCELED', 'connect was cancelled');
    const channel = await transport.connect(address);
    const client = new IpcClient(address, (sink) => new ClientSession(address, channel, poller, sink, maxMessage));
    await client.#session.handshake(
      encodeHello({
        version: PROTOCOL_VERSION,
        maxMessage,
        serviceId: byName ? SERVICE_BY_NAME : service,
        serviceName: byName ? service : '',
      }),
      options.timeout ?? 5000,
      options.signal,
    );
    // After the caller's continuation: by then it has attached its event listeners.
    setImmediate(() => client.#session.releaseFrames());
    return client;
  }

  /** The service's id, as the server confirmed it. */
  get serviceId(): number {
    return this.#session.serviceId;
  }

  /** The service's name, as the server confirmed it. */
  get serviceName(): string {
    return this.#session.serviceName;
  }

  /** Largest request payload the server accepts on this connection. */
  get maxMessageSize(): number {
    return this.#session.maxMessage;
  }

  /** The server process's credentials, as the kernel reported them. */
  get serverCredentials(): Credentials {
    return this.#session.credentials;
  }

  /** Whether requests can be sent: false once closing or closed. */
  get isOpen(): boolean {
    return this.#closing === undefined && this.#session.isOpen;
  }

  /** Requests sent and not yet answered. */
  get pendingRequests(): number {
    return this.#session.pendingCount;
  }

  /** Counters of this connection. */
  get stats(): Readonly<ClientStats> {
    return this.#session.stats;
  }

  /**
   * Sends a request and resolves with the response payload. Requests are pipelined: many may be
   * in flight and the server may answer them in any order.
   *
   * @param command - command id, 0–65535
   * @param payload - request payload; must not change until the promise settles
   * @param options - a timeout and a cancellation signal
   * @throws {@link IpcError} (as a rejection) `EMSGSIZE` when `payload` exceeds
   * {@link IpcClient.maxMessageSize} (nothing is sent), `EINVAL` for a bad command id, `ENOSYS` when
   * the service has no such command, `ECONNRESET` when the connection dropped before the
   * response, `ETIMEDOUT` / `ECANCELED` per `options`, `ESHUTDOWN` / `ENOTCONN` when closing or
   * closed, or the code the server's handler threw.
   */
  request(command: number, payload: Uint8Array = EMPTY, options?: RequestOptions): Promise<Buffer> {
    const refusal = this.#check(command, payload, options);
    if (refusal !== undefined) return Promise.reject(refusal);
    return this.#session.request(command, payload, options);
  }

  /**
   * Closes gracefully: new requests reject with `ESHUTDOWN`, pending ones still get their
   * responses, then the connection ends. Resolves when it has. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closing = this.#closed;
      this.#session.closeWhenDone();
    }
    return this.#closing;
  }

  /**
   * Ends the connection now; every pending request rejects with `error` (default
   * `ECONNABORTED`). Idempotent.
   */
  destroy(error?: IpcError): void {
    this.#session.shutdown(error ?? new IpcError('ECONNABORTED', 'client destroyed the connection'));
  }

  #check(command: number, payload: Uint8Array, options: RequestOptions | undefined): IpcError | undefined {
    if (this.#closing !== undefined) return new IpcError('ESHUTDOWN', 'client is closing: no new requests are sent');
    const session = this.#session;
    if (!session.isOpen) return new IpcError('ENOTCONN', `client is disconnected from ${this.address}: connect again`);
    if (!isUint16(command)) return new IpcError('EINVAL', `command id ${command} is not an integer in 0–65535`);
    if (!(payload instanceof Uint8Array)) return new IpcError('EINVAL', 'payload must be a Uint8Array or Buffer');
    if (payload.length > session.maxMessage) {
      return new IpcError('EMSGSIZE', `request of ${payload.length} bytes exceeds the server's maximum of ${session.maxMessage} bytes: split it`);
    }
    if (options?.signal?.aborted) return new IpcError('ECANCELED', `request for command ${command} was cancelled before it was sent`);
    return undefined;
  }
}

// IpcClient: a connection to one service, with retries, reconnection and queueing (client layer).
import { EventEmitter } from 'node:events';
import { Connector } from './client-connector.js';
import { clientSettings, serverMismatch, type ClientSettings, type IpcClientOptions } from './client-options.js';
import { RequestQueue } from './client-queue.js';
import { makeRequest, type ClientRequest } from './client-request.js';
import {
  ClientSession,
  type ClientSink,
  type ClientStats,
  type ReceivedMessage,
  type RequestOptions,
} from './client-session.js';
import { describeValue, gotValue } from '../describe-value.js';
import { IpcError } from '../errors.js';
import { isUint16, EMPTY_PAYLOAD } from '../protocol/frame.js';
import { helloFor } from '../protocol/handshake.js';
import { checkPoller, duration } from '../option-checks.js';
import type { Credentials } from '../contracts/transport.js';
import type { ReceivedFds } from '../link/received-fds.js';
import type { Poller, Timer } from '../contracts/poller.js';

/** Events of {@link IpcClient}. */
export interface IpcClientEvents {
  /**
   * The server sent an event. `payload` is the listener's to keep and to write into, except over
   * a transport that lends its memory (`ShmTransport` with `lendViews`): there it is a read-only
   * view of the ring, valid only until the listener returns, and the server may change its bytes
   * meanwhile, so copy it (`Buffer.from(payload)`) before checking or keeping it. `fds` are the fds that came with it:
   * take those you keep before the listener returns, and pollux closes the rest.
   */
  event: [event: number, payload: Buffer, fds: ReceivedFds];
  /**
   * The bytes waiting to be written went over `sendQueueHighWater` (`true`) or back under it
   * (`false`); see {@link IpcClient.flowControlled}.
   */
  flowControl: [on: boolean];
  /**
   * With `reconnect`: the connection was lost and the client is connecting again. Requests that
   * were in flight have been rejected with `ECONNRESET`. `reason.code` is `ESHUTDOWN` when the
   * server closed the connection on purpose, `ECONNRESET` when it went away without a goodbye.
   */
  disconnect: [reason: IpcError];
  /**
   * With `reconnect`: a new connection is up, to a server that passed the identity check
   * (`expectServer`, or by default the uid of the first connection's server), its handshake done.
   * Queued requests go out once the listeners have returned: a listener that calls `destroy()`
   * keeps them from being written at all.
   */
  reconnect: [];
  /**
   * The client is done for good; every request still pending or queued has been rejected.
   * `reason.code` is `ESHUTDOWN` when the server closed the connection on purpose,
   * `ECONNRESET` when the server went away without a goodbye, `ECONNABORTED` when this client
   * closed it; with `reconnect`, the error that ended reconnecting (`ETIMEDOUT` past the
   * deadline, or the server's refusal such as `ENXIO` or `EACCES`).
   */
  close: [reason: IpcError];
}

/** Options of {@link IpcClient.close}. */
export interface CloseOptions {
  /**
   * Wait at most this many ms for pending responses; then they reject with `ETIMEDOUT` and the
   * connection ends. Default: wait as long as they take.
   */
  readonly timeout?: number;
}

/**
 * A connection to one service of an {@link IpcServer}: pipelined requests with ids, and
 * server-sent events. Make one with {@link IpcClient.connect}.
 *
 * Requests are at-most-once: a request in flight when the connection drops rejects with
 * `ECONNRESET` and is never sent again, so the caller decides whether to retry. With the
 * `reconnect` option the client outlives its connections: it connects again after the server
 * went away, and is the same object before and after.
 */
export class IpcClient extends EventEmitter<IpcClientEvents> {
  /** Where the client connects. */
  readonly address: string;
  readonly #settings: ClientSettings;
  readonly #stats: ClientStats = {
    requests: 0,
    responses: 0,
    events: 0,
    lateResponses: 0,
    bytesIn: 0,
    bytesOut: 0,
    reconnects: 0,
  };
  readonly #connector: Connector;
  readonly #queue: RequestQueue;
  readonly #poller: Poller;
  /** The connection in use; undefined while connecting, reconnecting and once closed. */
  #session: ClientSession | undefined;
  /** The last connection made: what the accessors report while reconnecting; undefined before the first. */
  #latest: ClientSession | undefined;
  /**
   * Whether requests made before the first connection is up are written with its hello: a client
   * made by {@link IpcClient.open}, until that connection is up.
   */
  #pipelines: boolean;
  /** The first connection while its handshake runs, when it takes requests written with its hello. */
  #opening: ClientSession | undefined;
  /** Settles once the first connection is up, or the client gave up making it. */
  #ready: Promise<void> = Promise.resolve();
  /** The uid of the first connection's server, which reconnections must match without `expectServer`. */
  #firstServerUid: number | undefined;
  /** Stops a connection attempt in progress (a reconnection, or an opening) when the client is destroyed. */
  #stopConnecting: AbortController | undefined;
  /** Set once the user closed or destroyed the client: no more reconnecting. */
  #ending = false;
  #closing: Promise<void> | undefined;
  #closeTimer: Timer | undefined;
  #done = false;
  readonly #closed: Promise<void>;
  #markClosed!: () => void;

  private constructor(address: string, options: IpcClientOptions, settings: ClientSettings, pipelines: boolean) {
    super();
    this.address = address;
    this.#settings = settings;
    this.#pipelines = pipelines;
    this.#closed = new Promise((resolve) => {
      this.#markClosed = resolve;
    });
    const { service, poller, transport } = options;
    this.#poller = poller;
    this.#queue = new RequestQueue(poller);
    this.#connector = new Connector({
      address,
      transport,
      poller,
      handshakeTimeout: settings.handshakeTimeout,
      verifyServer: (credentials) => {
        const expected =
          settings.expectServer ?? (this.#firstServerUid === undefined ? undefined : { uid: this.#firstServerUid });
        return expected === undefined ? undefined : serverMismatch(expected, credentials, address);
      },
      hello: helloFor(service, settings.maxMessage, settings.maxFds),
      createSession: (channel) => {
        const session: ClientSession = new ClientSession(
          address,
          service,
          channel,
          poller,
          this.#sinkFor(() => session),
          settings.maxMessage,
          this.#stats,
          settings.sendQueueHighWater,
          settings.maxFds,
        );
        // The caller of open() held the client, and added its listeners, before anything was read.
        if (this.#pipelines) session.holdsFramesAtWelcome = false;
        return session;
      },
      helloQueued: (session) => {
        if (!this.#pipelines) return;
        // Destroyed while the transport connected, with no controller to stop the attempt.
        if (this.#done) {
          session.destroy(new IpcError('ECANCELED', 'connect was cancelled'));
          return;
        }
        this.#opening = session;
        this.#sendQueued(session);
      },
    });
  }

  /**
   * Connects to `service` at `address` and completes the handshake; with `retry`, waits for a
   * server that is not up yet.
   *
   * @throws {@link IpcError} `ECONNREFUSED` or `ENOENT` when no server listens at `address`;
   * `ENXIO` when the server has no such service; `EACCES` (or the code the service's `accept`
   * hook chose) when refused; `EPERM` when the server does not match `expectServer` (nothing was
   * written to it); `EPROTONOSUPPORT` on a protocol version mismatch; `EPROTO` when the server
   * breaks the protocol (a welcome to another service than asked for, say); `ETIMEDOUT` when the
   * handshake took longer than `timeout`, or with `retry` when no attempt succeeded before the
   * deadline (`cause`: the last attempt's error); `ECANCELED` when `signal` aborted; `EINVAL` for
   * bad options.
   */
  static async connect(address: string, options: IpcClientOptions): Promise<IpcClient> {
    const settings = clientSettings(options);
    checkPoller(options.poller);
    if (options.signal?.aborted) throw new IpcError('ECANCELED', 'connect was cancelled');
    const client = new IpcClient(address, options, settings, false);
    await client.#openFirst(options.signal);
    const session = client.#session!;
    // After the caller's continuation, by when it has attached its event listeners; or at its
    // first request, whichever comes first.
    options.poller.timer(0, () => session.releaseFrames());
    return client;
  }

  /**
   * Makes a client for `service` at `address` and connects it in the background, without waiting
   * for the handshake: requests made at once are written with the hello, in the same write where
   * they fit, and the server answers the welcome and them together; the connection saves a round
   * trip. Requests wait instead, and go out once the server agreed its message size, when larger
   * than 1 KiB or behind one that is. Listeners added before the caller first awaits see every
   * event. {@link IpcClient.ready} settles once connected.
   *
   * If the connection cannot be made (the errors of {@link IpcClient.connect}), every request made
   * meanwhile rejects with that error's `code`, `ready` rejects and `close` is emitted. A request
   * written with a hello that the server refused (`ENXIO`, `EACCES`, `EPROTONOSUPPORT`, `EAGAIN`)
   * did not run; one cut off by a server gone during the handshake (`ECONNRESET`) may have.
   *
   * @throws {@link IpcError} `EINVAL` for bad options.
   */
  static open(address: string, options: IpcClientOptions): IpcClient {
    const settings = clientSettings(options);
    checkPoller(options.poller);
    const client = new IpcClient(address, options, settings, true);
    const signal = options.signal;
    // A controller only where something waits on it (the caller's signal, pauses between retries):
    // without, destroy() reaches the connection as soon as its hello is queued (see helloQueued).
    let stop: AbortController | undefined;
    if (signal !== undefined || settings.retry !== undefined) {
      stop = new AbortController();
      client.#stopConnecting = stop;
      if (signal?.aborted) stop.abort();
      else signal?.addEventListener('abort', () => stop?.abort(), { once: true, signal: stop.signal });
    }
    client.#ready = client.#openFirst(stop?.signal);
    // Its failure is also every request's and the `close` event's: awaiting it is optional.
    client.#ready.catch(() => undefined);
    return client;
  }

  /**
   * Settles once the client is connected (its first connection, for a client made by
   * {@link IpcClient.open}; at once for one made by {@link IpcClient.connect}).
   *
   * @throws {@link IpcError} (as a rejection) the errors of {@link IpcClient.connect}, or the
   * reason the client was destroyed or closed before it connected.
   */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** Makes the first connection; with `open()`, requests made meanwhile follow its hello. */
  async #openFirst(signal: AbortSignal | undefined): Promise<void> {
    let session: ClientSession;
    try {
      session = await this.#connector.open(this.#settings.retry, signal);
    } catch (error) {
      this.#opening = undefined;
      const reason = IpcError.from(error, 'EIO');
      this.#finish(
        reason,
        new IpcError(
          reason.code,
          `could not connect to ${this.address}, so the request was not sent: ${reason.message}`,
          {
            cause: reason,
          },
        ),
      );
      throw reason;
    } finally {
      this.#stopConnecting = undefined;
    }
    this.#opening = undefined;
    this.#pipelines = false;
    // Destroyed between the welcome and here: the session went with the client.
    if (this.#done) return;
    this.#session = this.#latest = session;
    this.#firstServerUid = session.credentials.uid;
    if (this.#queue.length > 0 || this.#closing !== undefined) this.#sendQueued(session);
  }

  /** The service's id, as the server confirmed it. */
  get serviceId(): number {
    return this.#latest?.serviceId ?? 0;
  }

  /** The service's name, as the server confirmed it. */
  get serviceName(): string {
    return this.#latest?.serviceName ?? '';
  }

  /**
   * Largest request payload the server accepts on this connection (the last one, while
   * reconnecting); before the first connection is up, the size this client asks for.
   */
  get maxMessageSize(): number {
    return this.#latest?.maxMessage ?? this.#settings.maxMessage;
  }

  /**
   * The server process's credentials, as the kernel reported them (of the last connection, while
   * reconnecting): those of the process that called `listen()`, at that moment, even if it later
   * handed the socket on or changed its uid (with socket activation: systemd's, pid 1). See
   * `expectServer` to check them.
   *
   * @throws {@link IpcError} `ENOTCONN` before the first connection is up (see {@link IpcClient.ready}).
   */
  get serverCredentials(): Credentials {
    const latest = this.#latest;
    if (latest === undefined)
      throw new IpcError('ENOTCONN', `client is still connecting to ${this.address}: await client.ready first`);
    return latest.credentials;
  }

  /** Whether the client is connected and requests go out now: false while reconnecting, closing or closed. */
  get isOpen(): boolean {
    return this.#closing === undefined && this.#session !== undefined && this.#session.isOpen;
  }

  /**
   * Whether more than `sendQueueHighWater` bytes wait to be written: new requests wait their
   * turn or reject with `EAGAIN`, per `whenFlowControlled`. The `flowControl` event tells each change.
   */
  get flowControlled(): boolean {
    return this.#session?.flowControlled ?? false;
  }

  /** Requests sent and not yet answered. */
  get pendingRequests(): number {
    return this.#session?.pendingCount ?? 0;
  }

  /** Requests accepted but not sent yet: waiting for a reconnection or for flow control to lift. */
  get queuedRequests(): number {
    return this.#queue.length;
  }

  /** Counters of this client, summed over its connections. */
  get stats(): Readonly<ClientStats> {
    return this.#stats;
  }

  /**
   * Sends a request and resolves with the response payload. Requests are pipelined: many may be
   * in flight and the server may answer them in any order.
   *
   * @param command - command id, an integer 0–65535
   * @param payload - request payload; must not change until the promise settles
   * @param options - a timeout and a cancellation signal, both counting from this call (time spent
   * waiting to be sent included), and fds to pass with the request (duplicated at this call)
   * @throws {@link IpcError} (as a rejection) `EMSGSIZE` when `payload` exceeds
   * {@link IpcClient.maxMessageSize} (nothing is sent), `EINVAL` for a bad command id, payload,
   * timeout or signal, `ENOSYS` when
   * the service has no such command, `ECONNRESET` when the connection dropped before the
   * response, `ETIMEDOUT` / `ECANCELED` per `options`, `EAGAIN` when flow-controlled with
   * `whenFlowControlled: 'reject'` or when `queueLimit` requests already wait for a reconnection,
   * `ENOTCONN` when disconnected (and not queueing) or closed, `ESHUTDOWN` when closing, or the code
   * the server's handler threw; for `options.fds`: `ENOTSUP` when the transport cannot pass fds,
   * `EINVAL` for more than the server takes, `EBADF` for one that is not open, `EMFILE` when this
   * process is out of fds, `ENOTCONN` while reconnecting (queueing or not).
   */
  request(command: number, payload: Uint8Array = EMPTY_PAYLOAD, options?: RequestOptions): Promise<Buffer> {
    try {
      this.#check(command, payload, options);
    } catch (error) {
      return Promise.reject(error as IpcError);
    }
    const session = this.#session;
    if (options?.fds === undefined) {
      if (session !== undefined) {
        if (!session.flowControlled && this.#queue.length === 0) return session.request(command, payload, options);
      } else {
        const opening = this.#opening;
        if (opening !== undefined && this.#queue.length === 0 && opening.takesEarly(payload.length))
          return opening.request(command, payload, options);
      }
    }
    const request = makeRequest(command);
    this.#submit(request, payload, options);
    return request.promise;
  }

  /**
   * {@link IpcClient.request}, for a response that carries fds (a handler's `connection.withFds`): resolves
   * with the payload and the fds, which are yours from then on, to close when done.
   *
   * @throws {@link IpcError} (as a rejection) the codes of {@link IpcClient.request}; for
   * `options.fds`: `ENOTSUP` when the transport cannot pass fds, `EINVAL` for more than the
   * server takes (its `maxFdsPerMessage`), `EBADF` for one that is not open, `EMFILE` when this
   * process is out of fds, `ENOTCONN` while
   * reconnecting (a request with fds is never queued for a connection that is not there yet)
   */
  requestWithFds(
    command: number,
    payload: Uint8Array = EMPTY_PAYLOAD,
    options?: RequestOptions,
  ): Promise<ReceivedMessage> {
    try {
      this.#check(command, payload, options);
    } catch (error) {
      return Promise.reject(error as IpcError);
    }
    const request = makeRequest(command);
    request.wantsFds = true;
    this.#submit(request, payload, options);
    return request.promise.then((response) => ({ payload: response, fds: request.receivedFds ?? [] }));
  }

  /**
   * {@link IpcClient.request}, with the response copied into `buffer` (coroipc's
   * `msg_send_reply_receive_in_buf`): no allocation for it, and, over shared memory, one copy
   * straight from the ring. Resolves with the response's length; its bytes are
   * `buffer.subarray(0, length)`. Fds the response carries are closed. `buffer` must not be used
   * until the promise settles.
   *
   * @param buffer - where the response goes; {@link IpcClient.maxMessageSize} bytes hold any
   * @throws {@link IpcError} (as a rejection) the codes of {@link IpcClient.request}; `EINVAL` when
   * `buffer` is not a Uint8Array; `EMSGSIZE` when the response is longer than `buffer`: the
   * response is dropped (nothing of it stays queued) and `buffer` is left as it was.
   */
  requestInto(command: number, payload: Uint8Array, buffer: Uint8Array, options?: RequestOptions): Promise<number> {
    try {
      this.#check(command, payload, options);
      if (!(buffer instanceof Uint8Array)) {
        throw new IpcError(
          'EINVAL',
          `buffer must be a Uint8Array or Buffer, got ${describeValue(buffer)}: pass Buffer.alloc(client.maxMessageSize)`,
        );
      }
    } catch (error) {
      return Promise.reject(error as IpcError);
    }
    const request = makeRequest(command);
    request.into = buffer;
    this.#submit(request, payload, options);
    return request.promise.then(byteLength);
  }

  /** Sends a checked request now, or queues it, with the fds it carries duplicated first. */
  #submit(request: ClientRequest, payload: Uint8Array, options: RequestOptions | undefined): void {
    const session = this.#session;
    const fds = options?.fds;
    if (fds !== undefined && fds.length > 0) {
      if (session === undefined) {
        request.reject(
          new IpcError(
            'ENOTCONN',
            `client is not connected to ${this.address} (connecting or reconnecting): a request with fds waits for no connection; retry once connected`,
          ),
        );
        return;
      }
      try {
        request.outgoingFds = session.duplicateFds(fds);
      } catch (error) {
        request.reject(error as IpcError);
        return;
      }
    }
    if (session !== undefined && !session.flowControlled && this.#queue.length === 0)
      session.sendRequest(request, payload, options?.timeout, options?.signal);
    else this.#enqueue(request, payload, options);
  }

  /**
   * Closes gracefully: new requests reject with `ESHUTDOWN`, pending and queued ones still get
   * their responses (for at most `options.timeout` ms), then the connection ends. While
   * reconnecting, queued requests reject with `ESHUTDOWN` and reconnecting stops. Resolves once
   * the client is closed. Idempotent.
   */
  close(options?: CloseOptions): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closing = this.#closed;
    this.#ending = true;
    if (this.#done) return this.#closing;
    const session = this.#session;
    // Still opening (#pipelines): once connected, what was asked meanwhile goes out, then the close.
    if (session === undefined && !this.#pipelines) {
      this.#stopConnecting?.abort();
      this.#finish(
        new IpcError('ECONNABORTED', 'client closed while reconnecting'),
        new IpcError('ESHUTDOWN', 'client closed before the request could be sent'),
      );
      return this.#closing;
    }
    const timeout = options?.timeout;
    if (timeout !== undefined) {
      this.#closeTimer = this.#poller.timer(
        timeout,
        () => {
          // Still a close the caller asked for: the server hears a goodbye, not a crash.
          this.#end(
            new IpcError(
              'ETIMEDOUT',
              `client closed without this response: none came within the ${timeout} ms close() waits`,
            ),
            true,
          );
        },
        true,
      );
    }
    if (session !== undefined && this.#queue.length === 0) session.close();
    return this.#closing;
  }

  /** {@link IpcClient.close} without a timeout, for `await using client = await IpcClient.connect(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Ends the client now, writing nothing more to the server (not even what is queued): every
   * pending or queued request rejects with `error` (default `ECONNABORTED`) and reconnecting
   * stops. The server sees the connection drop as if this process had died. Idempotent.
   */
  destroy(error?: IpcError): void {
    this.#end(error ?? new IpcError('ECONNABORTED', 'client destroyed the connection'), false);
  }

  /** Ends the client with `reason`; `graceful` writes what is queued and a goodbye first. */
  #end(reason: IpcError, graceful: boolean): void {
    if (this.#done) return;
    this.#ending = true;
    const session = this.#session;
    if (session === undefined) {
      // Requests written with the hello reject with the reason, as pending ones do.
      this.#opening?.destroy(reason);
      this.#stopConnecting?.abort();
      this.#finish(reason, reason);
      return;
    }
    this.#queue.rejectAll(reason);
    if (graceful) session.close(reason);
    else session.destroy(reason);
  }

  /** Throws the refusal of a request that must not go out. */
  #check(command: number, payload: Uint8Array, options: RequestOptions | undefined): void {
    if (this.#closing !== undefined) throw new IpcError('ESHUTDOWN', 'client is closing: no new requests are sent');
    if (this.#done || this.#ending)
      throw new IpcError('ENOTCONN', `client is disconnected from ${this.address}: connect again`);
    if (!isUint16(command))
      throw new IpcError('EINVAL', `command id must be an integer in 0–65535, ${gotValue(command)}`);
    if (!(payload instanceof Uint8Array)) {
      throw new IpcError(
        'EINVAL',
        `payload must be a Uint8Array or Buffer, got ${describeValue(payload)}: encode it first, e.g. Buffer.from(text)`,
      );
    }
    const maxMessage = this.maxMessageSize;
    if (payload.length > maxMessage) throw oversize(payload, maxMessage);
    if (options?.timeout !== undefined) duration('timeout', options.timeout);
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new IpcError(
        'EINVAL',
        `signal must be an AbortSignal, got ${describeValue(signal)}: pass controller.signal`,
      );
    }
    if (signal?.aborted)
      throw new IpcError('ECANCELED', `request for command ${command} was cancelled before it was sent`);
    if (options?.fds !== undefined && !Array.isArray(options.fds))
      throw new IpcError('EINVAL', `fds must be an array of fd numbers, got ${describeValue(options.fds)}`);
  }

  /** A request that cannot go out now: it waits in the queue, or is refused, per the options. */
  #enqueue(request: ClientRequest, payload: Uint8Array, options: RequestOptions | undefined): void {
    const settings = this.#settings;
    if (this.#session === undefined) {
      if (!settings.queueWhileDisconnected && !this.#pipelines) {
        request.rejectUnsent(
          new IpcError(
            'ENOTCONN',
            `client is reconnecting to ${this.address}: retry after the 'reconnect' event, or set whileDisconnected: 'queue'`,
          ),
        );
        return;
      }
      if (this.#queue.length >= settings.queueLimit) {
        request.rejectUnsent(
          new IpcError(
            'EAGAIN',
            `${settings.queueLimit} requests already wait for the reconnection (queueLimit): retry later`,
          ),
        );
        return;
      }
    } else if (!settings.waitWhenFlowControlled) {
      request.rejectUnsent(
        new IpcError(
          'EAGAIN',
          `more than ${settings.sendQueueHighWater} bytes wait to be written (sendQueueHighWater): retry after the 'flowControl' event`,
        ),
      );
      return;
    }
    this.#queue.add(request, payload, options?.timeout, options?.signal);
    this.#connector.keepAlive = true;
  }

  /**
   * Hands queued requests to the connection, oldest first, while it takes them: the live one, or
   * the opening one while they may follow its hello.
   */
  #sendQueued(session: ClientSession): void {
    const queue = this.#queue;
    const early = session === this.#opening;
    while (
      queue.length > 0 &&
      (early
        ? // Fds are read only once the handshake is done: a request with fds waits for the welcome.
          session.takesEarly(queue.first!.payload.length) && queue.first!.outgoingFds === undefined
        : this.#session === session && !session.flowControlled)
    ) {
      const request = queue.shift()!;
      const left = request.expires - this.#poller.now();
      const fdCount = request.outgoingFds?.fds.length ?? 0;
      if (!early && request.payload.length > session.maxMessage)
        request.rejectUnsent(oversize(request.payload, session.maxMessage));
      else if (fdCount > session.peerMaxFds)
        request.rejectUnsent(
          new IpcError(
            'EINVAL',
            `request carries ${fdCount} fds, more than the ${session.peerMaxFds} the server takes per message (its maxFdsPerMessage) since it reconnected`,
          ),
        );
      else if (left <= 0)
        request.rejectUnsent(
          new IpcError('ETIMEDOUT', `request for command ${request.command} ran out of time before it was sent`),
        );
      else
        session.sendRequest(
          request,
          request.payload,
          left === Number.POSITIVE_INFINITY ? undefined : left,
          request.signal,
        );
    }
    if (queue.length === 0 && this.#closing !== undefined && this.#session === session) session.close();
  }

  /** What a session reports; `current` tells a stale session's report from the live one's. */
  #sinkFor(current: () => ClientSession): ClientSink {
    return {
      event: (event, payload, fds) => {
        // The opening session's events come with its welcome, before open() made it the live one.
        const session = current();
        if (session === this.#session || session === this.#opening) this.emit('event', event, payload, fds);
      },
      flowControl: (on) => {
        const session = current();
        if (session !== this.#session) return;
        this.#notify('flowControl', on);
        if (!on) this.#sendQueued(session);
      },
      closed: (reason) => {
        if (current() === this.#session) this.#lost(reason);
      },
    };
  }

  /** The live connection ended: reconnect, or the client is done. */
  #lost(reason: IpcError): void {
    this.#session = undefined;
    // Made only for requests that wait: a client closing with none must not pay for an error.
    const unsent = (): IpcError =>
      new IpcError(
        'ENOTCONN',
        `connection to ${this.address} ended before the request was sent (${reason.code}): it was not sent`,
        { cause: reason },
      );
    if (this.#ending || this.#settings.reconnect === undefined) {
      this.#finish(reason, unsent);
      return;
    }
    // Requests that waited out flow control only carry over when the caller asked for queueing.
    if (!this.#settings.queueWhileDisconnected && this.#queue.length > 0) this.#queue.rejectAll(unsent());
    this.#notify('disconnect', reason);
    void this.#reconnect();
  }

  async #reconnect(): Promise<void> {
    const stop = new AbortController();
    this.#stopConnecting = stop;
    // A wait nobody awaits must not hold the process; queued requests are someone awaiting.
    this.#connector.keepAlive = this.#queue.length > 0;
    let session: ClientSession;
    try {
      session = await this.#connector.open(this.#settings.reconnect, stop.signal);
    } catch (error) {
      if (!stop.signal.aborted) {
        const reason = IpcError.from(error, 'EIO');
        this.#finish(
          reason,
          new IpcError(reason.code, `gave up reconnecting to ${this.address}: ${reason.message}`, { cause: reason }),
        );
      }
      return;
    } finally {
      this.#stopConnecting = undefined;
    }
    if (this.#ending) {
      session.close();
      return;
    }
    this.#session = this.#latest = session;
    this.#stats.reconnects++;
    this.#notify('reconnect');
    // A listener may have destroyed or closed the client, or lost the connection already.
    if (this.#session !== session) return;
    this.#sendQueued(session);
    session.releaseFrames();
  }

  /** The client is done: queued requests reject with `queuedError` (or what it makes), then `close` is emitted. */
  #finish(reason: IpcError, queuedError: IpcError | (() => IpcError)): void {
    if (this.#done) return;
    this.#done = true;
    this.#session = undefined;
    this.#closeTimer?.cancel();
    if (this.#queue.length > 0) this.#queue.rejectAll(typeof queuedError === 'function' ? queuedError() : queuedError);
    this.#markClosed();
    this.#notify('close', reason);
  }

  /** Emits from inside the engine: a listener's bug is the application's, not the connection's. */
  #notify<E extends 'flowControl' | 'disconnect' | 'reconnect' | 'close'>(event: E, ...args: IpcClientEvents[E]): void {
    try {
      (this.emit as (event: E, ...args: unknown[]) => boolean)(event, ...args);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

function oversize(payload: Uint8Array, maxMessage: number): IpcError {
  return new IpcError(
    'EMSGSIZE',
    `request of ${payload.length} bytes exceeds the server's maximum of ${maxMessage} bytes: split it`,
  );
}

/** The length of a response copied into a caller's buffer. */
function byteLength(response: Buffer): number {
  return response.length;
}

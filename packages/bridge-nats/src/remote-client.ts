// RemoteClient: the pipelined request API of IpcClient, for a pollux service served over NATS.
import { IpcError, type RequestOptions } from '@pollux/core';
import { EventEmitter } from 'node:events';
import { createInbox, type Msg, type NatsConnection, type Status, type Subscription } from 'nats';
import { timeoutOption } from './options.js';
import { BRIDGE_PROTOCOL_VERSION, SERVICE_METADATA } from './service-metadata.js';
import { DEFAULT_PREFIX, ServiceSubjects, subjectPrefix, subjectToken } from './subjects.js';
import { lookupError, natsRefusal, noBridge, publishDenied, replyError } from './wire-errors.js';

/** Options of {@link RemoteClient.connect}. */
export interface RemoteClientOptions {
  /** The service's token in subjects: its name, or the `subject` the bridges were given. */
  readonly service: string;
  /** First subject tokens, as the bridges were given. Default `pollux`. */
  readonly prefix?: string;
  /**
   * Timeout of each request in ms unless the request says otherwise, and of `connect`'s look-up.
   * Default 30 000. NATS tells nobody when a bridge dies with a request, so every request has
   * one: it is how a caller learns that the request's bridge went away.
   */
  readonly timeout?: number;
  /** Cancels `connect`'s look-up. */
  readonly signal?: AbortSignal;
}

/** Events of {@link RemoteClient}. */
export interface RemoteClientEvents {
  /**
   * A bridge published an event of the service. With several bridges, each publishes the events
   * of the pollux server it is connected to.
   */
  event: [event: number, payload: Buffer];
  /** The client is done: `ECONNABORTED` when closed, `ENOTCONN` when the NATS connection closed for good. */
  close: [reason: IpcError];
}

/** Counters of a {@link RemoteClient}. */
export interface RemoteClientStats {
  /** Requests sent. */
  requests: number;
  /** Replies received, errors included. */
  responses: number;
  /** Events received. */
  events: number;
  /** Replies that arrived after their request timed out or was cancelled, and were dropped. */
  lateResponses: number;
}

/** A request waiting for its reply. */
interface Pending {
  readonly command: number;
  readonly subject: string;
  readonly resolve: (answer: Buffer) => void;
  readonly reject: (error: IpcError) => void;
  readonly timer: NodeJS.Timeout;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
}

/** What the bridges say of the service in the NATS services API. */
interface ServiceInfoReply {
  readonly version?: string;
  readonly metadata?: Record<string, string>;
}

const DEFAULT_TIMEOUT = 30_000;

/** `nats.status()`, which is a queued iterator with `stop()` (its type says only `AsyncIterable`). */
type Statuses = AsyncIterable<Status> & { stop?(): void };

/**
 * A client of a pollux service that bridges ({@link NatsBridge}) serve on NATS: the same pipelined
 * `request(command, payload, { timeout, signal })` as a local `IpcClient`, rejecting with the
 * same `IpcError` codes, and the service's events as `event`. `contractClient(remote, contract)`
 * gives it typed calls, as it does a local client.
 *
 * Requests travel as NATS requests on `<prefix>.<service>.<command>`, with replies on one inbox
 * subscription of this client; they are at-most-once, as local ones are.
 */
export class RemoteClient extends EventEmitter<RemoteClientEvents> {
  /** The service's id, as the bridge reported it. */
  readonly serviceId: number;
  /** The service's name, as the bridge reported it. */
  readonly serviceName: string;
  readonly #nats: NatsConnection;
  readonly #subjects: ServiceSubjects;
  /** The pollux server's largest request, as the bridge reported it. */
  readonly #serverMaxMessage: number;
  readonly #timeout: number;
  readonly #inbox: string;
  readonly #pending = new Map<number, Pending>();
  readonly #stats: RemoteClientStats = { requests: 0, responses: 0, events: 0, lateResponses: 0 };
  readonly #replies: Subscription;
  readonly #events: Subscription;
  readonly #statuses: Statuses;
  #nextId = 0;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  #done = false;

  private constructor(nats: NatsConnection, subjects: ServiceSubjects, timeout: number, info: ServiceInfoReply) {
    super();
    this.#nats = nats;
    this.#subjects = subjects;
    this.#timeout = timeout;
    const metadata = info.metadata ?? {};
    this.serviceId = Number(metadata[SERVICE_METADATA.serviceId]);
    this.serviceName = metadata[SERVICE_METADATA.serviceName] ?? subjects.token;
    this.#serverMaxMessage = Number(metadata[SERVICE_METADATA.maxMessageSize]);
    this.#inbox = createInbox();
    // One subscription for every reply, as the local client has one connection for every
    // response: a request costs a publish, not a subscription.
    this.#replies = nats.subscribe(`${this.#inbox}.*`, { callback: (_error, msg) => this.#onReply(msg) });
    this.#events = nats.subscribe(subjects.allEvents, { callback: (_error, msg) => this.#onEvent(msg) });
    this.#statuses = nats.status() as Statuses;
    void this.#watchPermissions();
    void nats
      .closed()
      .then(() => this.#finish(new IpcError('ENOTCONN', 'the NATS connection closed for good: connect again')));
  }

  /**
   * Looks the service up through the NATS services API (any bridge that serves it answers) and
   * subscribes to replies and events.
   *
   * @throws {@link @pollux/core!index.IpcError} `ENOENT` when no bridge serves `service` under `prefix`; `ETIMEDOUT`
   * when none answered within `timeout`; `EPROTONOSUPPORT` when the bridge speaks another major
   * version of the bridge's wire format; `ECANCELED` when `signal` aborted; `ENOTCONN` when the
   * NATS connection is closed; `EINVAL` for bad options.
   */
  static async connect(nats: NatsConnection, options: RemoteClientOptions): Promise<RemoteClient> {
    const subjects = new ServiceSubjects(
      subjectPrefix(options.prefix ?? DEFAULT_PREFIX),
      subjectToken('service', options.service),
    );
    const timeout = timeoutOption('timeout', options.timeout ?? DEFAULT_TIMEOUT);
    if (options.signal?.aborted) throw new IpcError('ECANCELED', 'connect was cancelled');
    if (nats.isClosed()) throw new IpcError('ENOTCONN', 'the NATS connection is closed: connect again');
    const lookup = nats.request(subjects.info, undefined, { timeout }).catch((cause: unknown) => {
      throw lookupError(cause, subjects, timeout, nats);
    });
    const reply = await abortable(lookup, options.signal);
    let info: ServiceInfoReply;
    try {
      info = reply.json<ServiceInfoReply>();
    } catch (cause) {
      throw new IpcError('EPROTO', `the service info of "${subjects.token}" is not JSON`, { cause });
    }
    const major = BRIDGE_PROTOCOL_VERSION.split('.')[0];
    if (
      info.version?.split('.')[0] !== major ||
      !Number.isInteger(Number(info.metadata?.[SERVICE_METADATA.serviceId]))
    ) {
      throw new IpcError(
        'EPROTONOSUPPORT',
        `"${subjects.microName}" on NATS is not a pollux bridge of wire format ${major}.x (version ${String(info.version)}): upgrade the older side`,
      );
    }
    return new RemoteClient(nats, subjects, timeout, info);
  }

  /**
   * Largest request payload that can go out: the smaller of the pollux server's limit and the
   * NATS server's `max_payload` (read at each call, as NATS may reconnect to another server).
   */
  get maxMessageSize(): number {
    const natsMax = this.#nats.info?.max_payload ?? Number.POSITIVE_INFINITY;
    return Math.min(natsMax, this.#serverMaxMessage || Number.POSITIVE_INFINITY);
  }

  /** Requests sent and not yet answered. */
  get pendingRequests(): number {
    return this.#pending.size;
  }

  /** Whether requests go out: false once closing or closed. */
  get isOpen(): boolean {
    return this.#closing === undefined && !this.#done;
  }

  /** Counters of this client. */
  get stats(): Readonly<RemoteClientStats> {
    return this.#stats;
  }

  /**
   * Sends a request to whichever bridge of the queue group takes it, and resolves with the
   * response payload. Requests are pipelined: many may be in flight.
   *
   * @param command - command id, an integer 0–65535
   * @param payload - request payload
   * @param options - a timeout (default: the client's) and a cancellation signal
   * @throws {@link @pollux/core!index.IpcError} (as a rejection) `EMSGSIZE` when `payload` exceeds
   * {@link RemoteClient.maxMessageSize} (nothing is sent) or the response exceeds NATS's
   * `max_payload`; `ENOENT` when no bridge serves the command (it is on no bridge's allow-list,
   * or no bridge is up); `ETIMEDOUT` when no reply came within the timeout (the bridge may have
   * died with the request: it may or may not have run); `ECANCELED` when `signal` aborted;
   * `EINVAL` for a bad command id, payload, timeout or signal; `ESHUTDOWN` when closing,
   * `ENOTCONN` when closed; or the code of the pollux server's refusal or handler, as a local
   * client gets it (`ENOSYS`, `EACCES`, …).
   */
  request(command: number, payload: Uint8Array = new Uint8Array(0), options?: RequestOptions): Promise<Buffer> {
    try {
      this.#check(command, payload, options);
    } catch (error) {
      return Promise.reject(error as IpcError);
    }
    const id = this.#nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      const timeout = options?.timeout ?? this.#timeout;
      const timer = setTimeout(() => {
        this.#settle(id)?.reject(
          new IpcError(
            'ETIMEDOUT',
            `no reply to command ${command} of "${this.#subjects.token}" within ${timeout} ms: the service was slow, or its bridge went away with the request (it may or may not have run)`,
          ),
        );
      }, timeout);
      const signal = options?.signal;
      const onAbort =
        signal === undefined
          ? undefined
          : () => this.#settle(id)?.reject(new IpcError('ECANCELED', `request for command ${command} was cancelled`));
      signal?.addEventListener('abort', onAbort!, { once: true });
      const subject = this.#subjects.command(command);
      this.#pending.set(id, { command, subject, resolve, reject, timer, signal, onAbort });
      try {
        this.#nats.publish(subject, payload, { reply: `${this.#inbox}.${id}` });
      } catch (cause) {
        this.#settle(id)?.reject(natsRefusal(cause, `the request of ${payload.length} bytes`, this.#nats));
        return;
      }
      this.#stats.requests++;
    });
  }

  /**
   * Closes gracefully: new requests reject with `ESHUTDOWN`, those in flight still get their
   * replies (or time out), then the subscriptions end. The NATS connection stays open.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#pending.size > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
      this.#finish(new IpcError('ECONNABORTED', 'client closed'));
    })();
    return this.#closing;
  }

  /** {@link RemoteClient.close}, for `await using client = await RemoteClient.connect(…)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Ends the client now: every request in flight rejects with `error` (default `ECONNABORTED`).
   * The NATS connection stays open. Idempotent.
   */
  destroy(error?: IpcError): void {
    this.#closing ??= Promise.resolve();
    this.#finish(error ?? new IpcError('ECONNABORTED', 'client destroyed'));
  }

  #check(command: number, payload: Uint8Array, options: RequestOptions | undefined): void {
    if (this.#done) throw new IpcError('ENOTCONN', `client of "${this.#subjects.token}" is closed: connect again`);
    if (this.#closing !== undefined) throw new IpcError('ESHUTDOWN', 'client is closing: no new requests are sent');
    if (!Number.isInteger(command) || command < 0 || command > 0xffff)
      throw new IpcError('EINVAL', `command id must be an integer in 0–65535, got ${String(command)}`);
    if (!(payload instanceof Uint8Array))
      throw new IpcError('EINVAL', 'payload must be a Uint8Array or Buffer: encode it first, e.g. Buffer.from(text)');
    if (payload.length > this.maxMessageSize) throw this.#oversize(payload);
    if (options?.timeout !== undefined) timeoutOption('timeout', options.timeout);
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw new IpcError('EINVAL', 'signal must be an AbortSignal: pass controller.signal');
    if (signal?.aborted)
      throw new IpcError('ECANCELED', `request for command ${command} was cancelled before it was sent`);
  }

  #oversize(payload: Uint8Array): IpcError {
    const natsMax = this.#nats.info?.max_payload;
    return new IpcError(
      'EMSGSIZE',
      `request of ${payload.length} bytes exceeds the largest that can go out, ${this.maxMessageSize} bytes (NATS max_payload ${natsMax ?? '?'}, pollux server ${this.#serverMaxMessage}): split it`,
    );
  }

  /** Takes request `id` off the table and drops its timer and abort listener; undefined if it is gone. */
  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    if (this.#pending.size === 0) this.#idle?.();
    return pending;
  }

  #onReply(msg: Msg): void {
    const id = Number(msg.subject.slice(this.#inbox.length + 1));
    const pending = this.#settle(id);
    if (pending === undefined) {
      this.#stats.lateResponses++;
      return;
    }
    this.#stats.responses++;
    const error = replyError(msg, () =>
      noBridge(this.#subjects, `no bridge serves command ${pending.command} of "${this.#subjects.token}"`),
    );
    if (error === undefined) pending.resolve(asBuffer(msg.data));
    else pending.reject(error);
  }

  #onEvent(msg: Msg): void {
    const event = Number(msg.subject.slice(this.#subjects.root.length + '.events.'.length));
    if (!Number.isInteger(event)) return;
    this.#stats.events++;
    this.emit('event', event, asBuffer(msg.data));
  }

  /**
   * A NATS server that refuses a publish says so on the connection, naming the subject, not the
   * message: every request in flight to that subject was refused, none reached a bridge.
   */
  async #watchPermissions(): Promise<void> {
    for await (const status of this.#statuses) {
      const denied = status.permissionContext;
      if (denied?.operation !== 'publish') continue;
      for (const [id, pending] of this.#pending) {
        if (pending.subject !== denied.subject) continue;
        this.#settle(id)?.reject(publishDenied(denied.subject));
      }
    }
  }

  #finish(reason: IpcError): void {
    if (this.#done) return;
    this.#done = true;
    this.#closing ??= Promise.resolve();
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(reason);
    this.#idle?.();
    this.#statuses.stop?.();
    if (!this.#nats.isClosed()) {
      this.#replies.unsubscribe();
      this.#events.unsubscribe();
    }
    this.emit('close', reason);
  }
}

/** The bytes of a message as a Buffer, without a copy. */
function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** `promise`, or an `ECANCELED` rejection as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new IpcError('ECANCELED', 'connect was cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

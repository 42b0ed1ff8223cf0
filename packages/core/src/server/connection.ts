// Connection: a service's handle on one client connection (server layer).
import { EMPTY_PAYLOAD } from '../protocol/frame.js';
import type { IpcError } from '../errors.js';
import type { Credentials } from '../contracts/transport.js';
import type { ConnectionStats } from '../stats.js';
import type { MessageWithFds } from './with-fds.js';

/** What a {@link Connection} does for its session; implemented by the server engine. */
export interface ConnectionSession {
  readonly isOpen: boolean;
  readonly stats: Readonly<ConnectionStats>;
  sendEvent(event: number, payload: Uint8Array, fds: readonly number[] | undefined): void;
  withFds(payload: Uint8Array, fds: readonly number[]): MessageWithFds;
  pauseRequests(paused: boolean): void;
  close(waitMs: number): void;
}

/**
 * The server's view of one client connection of one service. Handed to command handlers and
 * service hooks; `context` holds the connection's private, typed state.
 *
 * A connection only names its own session: there is no way to reach another client's state
 * through it.
 */
export class Connection<Context = undefined> {
  /** Server-unique connection number, for logs. */
  readonly id: number;
  /**
   * The client's credentials, as the kernel recorded them when it called `connect()`
   * (`SO_PEERCRED`). They name the connector, not whoever holds the socket now: a process that
   * passed its connected fd on, or called `setuid` after connecting, keeps the identity it had.
   * A service that grants a privilege by uid should not rely on them alone when clients may hand
   * sockets on: see {@link AcceptHook}.
   */
  readonly credentials: Credentials;
  /**
   * The largest message, in bytes, either side may send on this connection: the smaller of what
   * the client asked for at its hello and the server's `maxMessageSize`. A request the client
   * sends is never larger; an event or response larger than this fails with `EMSGSIZE`.
   */
  readonly maxMessageSize: number;
  /** Private per-connection state made by the service's `createContext`. */
  context: Context;
  readonly #session: ConnectionSession;

  /** @internal Made by the server engine only. */
  constructor(
    id: number,
    credentials: Credentials,
    maxMessageSize: number,
    context: Context,
    session: ConnectionSession,
  ) {
    this.id = id;
    this.credentials = credentials;
    this.maxMessageSize = maxMessageSize;
    this.context = context;
    this.#session = session;
  }

  /** Whether the connection is still open; false from the moment it ends. */
  get isOpen(): boolean {
    return this.#session.isOpen;
  }

  /** This connection's counters and queue depths, now. */
  get stats(): Readonly<ConnectionStats> {
    return this.#session.stats;
  }

  /**
   * Sends an asynchronous event to the client, in order with responses.
   *
   * @param event - event id, 0–65535
   * @param payload - event payload; must not change until written
   * @param fds - fds to pass with the event (`SCM_RIGHTS`): pollux sends duplicates, so they stay
   * yours to close at once; at most the client's `maxFdsPerMessage` (253 by default)
   * @throws {@link IpcError} `ENOTCONN` when the connection has ended, `EMSGSIZE` when `payload`
   * exceeds the agreed message size, `EINVAL` for a bad event id or a payload that is not a
   * `Uint8Array` (checked before anything else), `EAGAIN` when the client is not
   * reading and its queue is at the server's `eventQueueLimit` (with `onEventQueueFull: 'reject'`:
   * the service's `drained` hook says when to send again;
   * with `'disconnect'` the connection is dropped instead and this returns); for `fds`: `ENOTSUP`
   * when the transport cannot pass fds, `EINVAL` for more than the client takes, `EBADF` for one
   * that is not open, `EMFILE` when this process is out of fds. Nothing is sent when it throws.
   */
  sendEvent(event: number, payload: Uint8Array = EMPTY_PAYLOAD, fds?: readonly number[]): void {
    this.#session.sendEvent(event, payload, fds);
  }

  /**
   * An answer with fds, for a command handler to return: `return connection.withFds(payload,
   * [fd])`. pollux duplicates `fds` now, so they stay yours to close as soon as this returns
   * (a `finally` in the handler is fine); the duplicates are sent with the answer and closed, or
   * closed when the answer is not sent (the handler threw, or the connection ended first).
   *
   * @param payload - the response payload
   * @param fds - open fds of this process, at most the client's `maxFdsPerMessage` (253 by default)
   * @throws {@link IpcError} `ENOTSUP` when the transport cannot pass fds, `EINVAL` for more than
   * the client takes, `EBADF` for one that is not open, `EMFILE` when this process is out of fds,
   * `ENOTCONN` when the connection has ended
   */
  withFds(payload: Uint8Array, fds: readonly number[]): MessageWithFds {
    return this.#session.withFds(payload, fds);
  }

  /**
   * Stops reading this connection's requests until {@link Connection.resumeRequests}: a service's
   * push-back against one client. Its writes then wait in kernel buffers. Idempotent.
   */
  pauseRequests(): void {
    this.#session.pauseRequests(true);
  }

  /** Undoes {@link Connection.pauseRequests}. */
  resumeRequests(): void {
    this.#session.pauseRequests(false);
  }

  /**
   * Closes the connection: no more of its requests are read, the client hears a goodbye saying
   * how many of its requests were read (answers still to come from running handlers are dropped;
   * the client learns they may or may not have run), and what is queued is written as far as the
   * client takes it within 2 s. The service's `closed` hook runs once it has ended.
   * {@link Connection.isOpen} is false from this call on. Idempotent.
   */
  close(): void {
    this.#session.close(0);
  }
}

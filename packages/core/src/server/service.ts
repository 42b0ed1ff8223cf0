// ServiceDefinition and its handler and hook types (server layer).
import type { Connection } from './connection.js';
import type { ReceivedFds } from '../link/received-fds.js';
import type { MessageWithFds } from './with-fds.js';
import type { IpcErrorCode } from '../errors.js';
import type { Credentials } from '../contracts/transport.js';

/**
 * Answers one request. Returns the response payload (nothing means an empty response), or a
 * promise of it; responses may complete in any order.
 *
 * To answer with an error, throw (or reject with) an {@link IpcError}: the caller gets its code
 * and message as they are. Anything else a handler throws is a bug, a *handler failure*: the
 * server reports it (its `'handlerError'` event, or a process warning) and the caller gets a
 * generic `EREMOTEIO` that names the service and command but not the error's text, which may
 * hold internals (paths, queries), unless the service sets {@link ServiceDefinition.exposeErrors}.
 * An answer that is not a `Uint8Array` (or nothing), or is over the agreed message size, is a
 * handler failure too.
 *
 * The payload is the handler's to keep and to write into: a view of a buffer the engine never
 * reuses. One exception: a transport that lends its memory (`ShmTransport` with `lendViews`)
 * hands over a read-only view that is valid only until the handler returns, not until its promise
 * settles, and the client may change its bytes meanwhile: copy it (`Buffer.from(payload)`) before
 * checking it or using it after an `await`. A payload passed on to `sendEvent` or a client's
 * `request` is copied by the engine where needed.
 *
 * The fds the request carried (none unless the server's `maxFdsPerMessage` allows them) are the
 * server's until the handler takes them: those not taken are closed once the handler has returned
 * or its promise settled. To answer with fds, return `connection.withFds(payload, fds)`.
 */
export type CommandHandler<Context> = (
  payload: Buffer,
  connection: Connection<Context>,
  command: number,
  fds: ReceivedFds,
) => Uint8Array | MessageWithFds | void | PromiseLike<Uint8Array | MessageWithFds | void>;

/** A handler failure, as the server reports it (see {@link CommandHandler}). */
export interface HandlerFailure {
  /** What the handler threw or rejected with, as it was; an `IpcError` for a bad answer. */
  readonly error: unknown;
  /** The service whose handler failed. */
  readonly serviceId: number;
  /** Its name. */
  readonly serviceName: string;
  /** The command id of the request. */
  readonly command: number;
  /** The connection the request came on. */
  readonly connection: Connection<unknown>;
}

/** Maps a command id to its handler (coroipc's selector); `undefined` answers `ENOSYS`. */
export type CommandSelector<Context> = (command: number) => CommandHandler<Context> | undefined;

/**
 * Decides whether a client may connect. Return `true` (or nothing) to accept, `false` to refuse
 * with `EACCES`, or an errno name such as `'EPERM'` to refuse with that code (one chosen at run
 * time goes through {@link errnoCode}; anything else reaches the client as `EREMOTEIO`).
 *
 * The credentials are those of the process that called `connect()`, as the kernel recorded them
 * then (`SO_PEERCRED`): not necessarily who uses the connection now. That process may have passed
 * the socket to another process (fd passing, `fork`, systemd) or changed its uid since, and the
 * connection keeps the first identity. Where that matters (a setuid helper, a broker that hands
 * connected sockets out), do not rest a privilege on the uid alone: tie it to the pid and check
 * it is still the same process (`/proc/<pid>` start time), or make the client prove itself in a
 * request, and keep the socket where only trusted users can connect (a directory of mode 0750).
 */
export type AcceptHook = (credentials: Credentials) => boolean | IpcErrorCode | void;

/**
 * A numbered service: its commands and the hooks of its connections' lifecycle (libqb's service
 * handlers). `Context` is the type of each connection's private state.
 */
export interface ServiceDefinition<Context = undefined> {
  /** Service id, 0–65535, unique per server. */
  readonly id: number;
  /** Service name, unique per server, at most 255 UTF-8 bytes; clients may connect by name. */
  readonly name: string;
  /**
   * Command handlers indexed by command id (0–65535), as an object or array, or a selector
   * function that picks the handler per command id.
   */
  readonly commands: Readonly<Record<number, CommandHandler<Context>>> | CommandSelector<Context>;
  /**
   * Pass the message (and errno-style code) of a handler failure on to the caller as is, e.g.
   * while developing. Default false: the caller gets a generic `EREMOTEIO`. An {@link IpcError}
   * a handler throws always passes on.
   */
  readonly exposeErrors?: boolean;
  /**
   * Admission control by the peer's uid, gid or pid. Runs before anything else. See
   * {@link AcceptHook} for whose credentials they are.
   */
  readonly accept?: AcceptHook;
  /** Makes a new connection's private context; runs after `accept` and before `created`. */
  readonly createContext?: (credentials: Credentials) => Context;
  /** The connection is established and may now send events. */
  readonly created?: (connection: Connection<Context>) => void;
  /**
   * The connection is gone: exactly once per connection, however it ended (peer crash, protocol
   * error, `close()`, server shutdown). Free what the session held here. Handlers still running
   * finish, but their results are dropped. `reason.code` tells how it ended: `ESHUTDOWN` the
   * client closed on purpose, `ECONNRESET` it went away without a goodbye (crash, kill),
   * `EPROTO` / `EMSGSIZE` it broke the protocol, `ECONNABORTED` the server closed it.
   */
  readonly closed?: (connection: Connection<Context>, reason: Error) => void;
  /**
   * The connection's queue, full when `sendEvent` threw `EAGAIN`, has drained to half the
   * server's `eventQueueLimit`: send again. Once per refusal episode.
   */
  readonly drained?: (connection: Connection<Context>) => void;
  /** After `closed`, once no handler of this connection is still running: the last hook. */
  readonly destroyed?: (connection: Connection<Context>) => void;
}

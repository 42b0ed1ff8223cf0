// Diagnostics channels: what the server engine publishes for tracing, only when someone listens (server layer).
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IpcError } from '../errors.js';
import type { Connection } from './connection.js';

/** Published on `pollux:server:connection:open` once a client's handshake is done. */
export interface ConnectionOpenMessage {
  readonly connection: Connection<unknown>;
  readonly serviceName: string;
}

/** Published on `pollux:server:connection:close` once an open connection ended. */
export interface ConnectionCloseMessage {
  readonly connection: Connection<unknown>;
  readonly serviceName: string;
  /** Why it ended: `ESHUTDOWN` for a client's goodbye, `ECONNRESET` for a vanished peer, … */
  readonly reason: IpcError;
}

/** Published on `pollux:server:request:start` before a request's handler runs. */
export interface RequestStartMessage {
  readonly connection: Connection<unknown>;
  readonly command: number;
  /** The request's id on its connection: pairs it with its finish. */
  readonly id: number;
  readonly size: number;
}

/** Published on `pollux:server:request:finish` once a request was answered (or its answer dropped). */
export interface RequestFinishMessage {
  readonly connection: Connection<unknown>;
  readonly command: number;
  readonly id: number;
  /** The error the caller got, or undefined for a response. */
  readonly error: IpcError | undefined;
}

/** Published on `pollux:server:protocol-error` when a peer broke the protocol and was closed. */
export interface ProtocolErrorMessage {
  /** The connection number, as in {@link Connection.id}. */
  readonly connectionId: number;
  /** The peer's pid, from the kernel. */
  readonly pid: number;
  readonly error: IpcError;
}

/**
 * The engine's `node:diagnostics_channel` channels (undici's pattern): subscribe to trace
 * connections and requests without touching the server's code. A message is built only while a
 * channel has subscribers, so an unwatched server pays one property read per event.
 *
 * @example
 * ```ts
 * // fragment: tracing every request's duration
 * import diagnosticsChannel from 'node:diagnostics_channel';
 * const started = new Map<string, number>();
 * diagnosticsChannel.subscribe('pollux:server:request:start', (message) => {
 *   const { connection, id } = message as RequestStartMessage;
 *   started.set(`${connection.id}:${id}`, performance.now());
 * });
 * diagnosticsChannel.subscribe('pollux:server:request:finish', (message) => {
 *   const { connection, id, command } = message as RequestFinishMessage;
 *   const key = `${connection.id}:${id}`;
 *   console.log(`command ${command} took ${performance.now() - started.get(key)!} ms`);
 *   started.delete(key);
 * });
 * ```
 */
export const diagnostics = {
  connectionOpen: diagnosticsChannel.channel('pollux:server:connection:open'),
  connectionClose: diagnosticsChannel.channel('pollux:server:connection:close'),
  requestStart: diagnosticsChannel.channel('pollux:server:request:start'),
  requestFinish: diagnosticsChannel.channel('pollux:server:request:finish'),
  protocolError: diagnosticsChannel.channel('pollux:server:protocol-error'),
} as const;

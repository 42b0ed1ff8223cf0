// The Transport contract: connect, listen and the non-blocking Channel (contracts layer).
import type { IpcError } from '../errors.js';

/**
 * Who is at the other end of a connection, as the kernel vouches for it (`SO_PEERCRED`): the
 * process that called `connect()` (the server's view) or `listen()` (the client's view), at that
 * moment. A later `setuid` or a socket handed to another process does not change them.
 */
export interface Credentials {
  /** Process id of the peer when it connected. */
  readonly pid: number;
  /** Effective user id of the peer. */
  readonly uid: number;
  /** Effective group id of the peer. */
  readonly gid: number;
}

/**
 * One connected, non-blocking byte stream. The engine polls {@link Channel.fd} and calls `read`
 * and `writev` when it is ready. Both return a negative errno instead of throwing, because
 * "would block" is an expected outcome on the hot path (`-EAGAIN`).
 */
export interface Channel {
  /** The fd whose readiness tells when to read or write (a socket, or a wake-up fd). */
  readonly fd: number;
  /** The peer's credentials. */
  readonly credentials: Credentials;
  /**
   * Reads into `buffer[offset, offset + length)`.
   *
   * @returns bytes read (> 0), 0 at orderly end of stream, or a negative errno (`-EAGAIN` when
   * nothing is there).
   */
  read(buffer: Uint8Array, offset: number, length: number): number;
  /**
   * Writes `chunks[0 .. count)` in order, as far as the kernel takes them, in one system call
   * where the transport can.
   *
   * @returns bytes written (possibly fewer than offered), or a negative errno (`-EAGAIN` when the
   * channel is full).
   */
  writev(chunks: readonly Uint8Array[], count: number): number;
  /** Closes the channel and its fd. Idempotent. Only call after the fd left the poller. */
  close(): void;
}

/** A bound, listening endpoint that yields {@link Channel}s. */
export interface Listener {
  /** The fd that becomes readable when a connection is waiting to be accepted. */
  readonly fd: number;
  /** The address it listens on, for messages and logs. */
  readonly address: string;
  /**
   * Accepts one waiting connection without blocking.
   *
   * @returns the new channel, or a negative errno (`-EAGAIN` when none is waiting).
   */
  accept(): Channel | number;
  /** Stops listening, closes the fd and removes what `listen` created. Idempotent. */
  close(): void;
}

/**
 * How bytes move between processes (libqb's transport ops table): the engine never branches on
 * which transport is in use.
 */
export interface Transport {
  /**
   * Starts listening on `address`.
   *
   * @throws {@link IpcError} with the errno of the failing step, e.g. `EADDRINUSE`, `EACCES`.
   */
  listen(address: string): Listener;
  /**
   * Connects to `address`.
   *
   * @throws {@link IpcError} `ECONNREFUSED` or `ENOENT` when nothing listens there.
   */
  connect(address: string): Promise<Channel>;
}

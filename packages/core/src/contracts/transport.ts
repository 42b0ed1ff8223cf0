// The Transport contract: connect, listen and the non-blocking Channel (contracts layer).
import type { IpcError } from '../errors.js';
import type { ReadyMask } from './poller.js';

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
 *
 * A channel may carry fds with its bytes ({@link Channel.maxFdsPerWrite} above 0): they travel
 * with the first byte of the `writev` that sends them, and arrive with the `read` that returns
 * that byte. A channel whose {@link Channel.fd} is only a wake-up, not where its bytes are (shared
 * memory), translates readiness with {@link Channel.watchFor} and {@link Channel.readiness}, so the
 * engine never branches on the kind of transport.
 */
export interface Channel {
  /** The fd the poller watches: the socket itself, or a wake-up fd. */
  readonly fd: number;
  /** The peer's credentials. */
  readonly credentials: Credentials;
  /**
   * The most fds one {@link Channel.writev} may carry: 0 or absent when the transport cannot pass fds,
   * `SCM_MAX_FD` (253) for a Unix socket.
   */
  readonly maxFdsPerWrite?: number;
  /**
   * A close-on-exec duplicate of `fd`, owned by the caller: what the engine queues in place of an
   * fd a user sends, so the user may close theirs at once. Required when
   * {@link Channel.maxFdsPerWrite} is above 0.
   *
   * @returns the new fd, or a negative errno (`-EBADF` when `fd` is not open, `-EMFILE`)
   */
  duplicateFd?(fd: number): number;
  /**
   * Closes an fd the engine owns: one it duplicated, or one that arrived and nobody took.
   * Required when {@link Channel.maxFdsPerWrite} is above 0.
   */
  closeFd?(fd: number): void;
  /**
   * Reads into `buffer[offset, offset + length)`. Fds that arrived with these bytes are appended
   * to `fds`, in the order sent, and belong to the caller from then on; without `fds` the channel
   * closes them, so a peer that sends fds to a reader that takes none leaks nothing.
   *
   * @returns bytes read (> 0), 0 at orderly end of stream, or a negative errno (`-EAGAIN` when
   * nothing is there). Fds that arrived with a read that then fails are closed.
   */
  read(buffer: Uint8Array, offset: number, length: number, fds?: number[]): number;
  /**
   * Writes `chunks[0 .. count)` in order, as far as the kernel takes them, in one system call
   * where the transport can. `fds` (at most {@link Channel.maxFdsPerWrite}) travel with the first
   * byte: once any byte is written they are sent, and stay the caller's to close; on an error
   * nothing was sent. The channel keeps no reference to `chunks`: the caller reuses their memory
   * as soon as the call returns.
   *
   * @returns bytes written (possibly fewer than offered), or a negative errno (`-EAGAIN` when the
   * channel is full; `-EBADF` when one of `fds` is not open).
   */
  writev(chunks: readonly Uint8Array[], count: number, fds?: readonly number[]): number;
  /**
   * What to ask the poller to watch {@link Channel.fd} for while the engine wants `interest` (a
   * mask of `Ready.Readable` and `Ready.Writable`). Called whenever the engine's interest
   * changes. A wake-up channel uses it to tell its peer to signal when there is data or room;
   * one with data already waiting must make its fd ready, since readiness is level-triggered.
   * Absent: the engine's interest is the fd's.
   */
  watchFor?(interest: ReadyMask): ReadyMask;
  /**
   * What a readiness the poller reported for {@link Channel.fd} means for this channel: a
   * wake-up channel consumes the wake-up and reports `Readable` if data waits and `Writable`
   * if there is room. `HangUp` and `Error` pass through. Absent: the fd's readiness is the
   * channel's.
   */
  readiness?(ready: ReadyMask): ReadyMask;
  /**
   * Zero-copy input, for a channel whose bytes already sit in memory this process maps (a
   * shared-memory ring): lends a view of the next unread bytes in place, at most `limit` of them,
   * instead of copying them as {@link Channel.read} would. Nothing is consumed until
   * {@link Channel.release}, which ends the lend; the view must not be used after it. The engine
   * parses frames in it and hands receivers payloads that are views of it, valid only until the
   * receiver returns. Before the release it may call {@link Channel.writev} with views of the lent
   * span among the chunks (an echo of a lent payload); it reads nothing while the lend is out.
   *
   * The memory may belong to the peer, which can change it at any moment: read each byte that
   * decides anything once, into memory of your own, before checking it.
   *
   * Only a channel that passes no fds lends. Absent, or `undefined` (nothing unread, nothing in
   * lendable memory yet, a wrapped or failed channel): the engine reads with {@link Channel.read},
   * which reports the end of the stream and errors.
   */
  lend?(limit: number): Uint8Array | undefined;
  /**
   * Ends the lend {@link Channel.lend} began: its first `bytes` are consumed (the writer may reuse
   * their memory), the rest stays unread for the next lend or read. Keeps readiness level-triggered,
   * as a read does. A no-op once the channel is closed.
   */
  release?(bytes: number): void;
  /**
   * Waits a moment for the peer's answer instead of going to sleep. The engine calls it right
   * after a write that sent something, before it returns to the poller, and only while it reads;
   * a true answer makes it read at once, without waiting for readiness. A channel that sees the
   * peer's writes without a system call (shared memory) may poll for them for a bounded time,
   * telling the peer meanwhile that it is awake, so an answer within that time costs neither side
   * a wake-up. The engine bounds how many such reads follow one another before it returns to the
   * poller, so timers and other fds get their turn.
   *
   * @returns true when bytes, the stream's end or an error are there to read now; false when
   * nothing came: the channel sleeps again as {@link Channel.watchFor} last asked. Absent: the
   * engine never waits.
   */
  awaitReadable?(): boolean;
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

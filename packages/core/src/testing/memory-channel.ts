// MemoryChannel: one end of an in-memory connection, bounded both ways, for engine unit tests (testing).
import { constants } from 'node:os';
import { EAGAIN, ECONNRESET, EPIPE } from '../errors.js';
import { Ready, type ReadyMask } from '../contracts/poller.js';
import type { Channel, Credentials } from '../contracts/transport.js';

const EBADF = -constants.errno.EBADF;
const EINVAL = -constants.errno.EINVAL;

/** What a {@link MemoryChannel} needs of the network that made it: fake fds and a change counter. */
export interface FdHost {
  /** A new fake fd that reports `readiness` while open. */
  openFd(readiness: (interest: ReadyMask) => ReadyMask): number;
  /** Closes a fake fd; closing one that is not open does nothing. */
  closeFd(fd: number): void;
  /** Whether `fd` is open. */
  isOpen(fd: number): boolean;
  /** The file behind an open fd, which passing the fd on keeps. */
  fileOf(fd: number): number | undefined;
  /** A new fd in the receiving end for a file that came with a read. */
  receiveFile(file: number): number;
  /** Something any fd's readiness depends on changed. */
  touch(): void;
}

/** Bytes written by one `writev`, and the files of the fds that travel with its first byte. */
interface Segment {
  bytes: Uint8Array;
  files: number[] | undefined;
}

/** One direction of a connection: what one end wrote and the other has not read yet. */
class Pipe {
  readonly segments: Segment[] = [];
  bytes = 0;
  /** The writer sent its last byte (a shutdown or a close): the reader gets end of file after the rest. */
  writerDone = false;

  constructor(readonly capacity: number) {}

  get room(): number {
    return this.capacity - this.bytes;
  }

  discard(): void {
    this.segments.length = 0;
    this.bytes = 0;
  }
}

/** How the far end of a channel went away. */
const PeerState = { Open: 0, Closed: 1, Reset: 2 } as const;
type PeerState = (typeof PeerState)[keyof typeof PeerState];

/**
 * One end of an in-memory connection, made by {@link MemoryTransport}: a {@link Channel} whose
 * bytes go to the other end through a bounded buffer per direction. No system call is made; its
 * {@link MemoryChannel.fd} is a fake number that only a {@link ManualPoller} on the same
 * {@link MemoryNetwork} understands.
 *
 * It behaves as a Unix stream socket does where the engine can tell: `writev` takes only what
 * fits and returns `-EAGAIN` when nothing does; a close with unread data, or a
 * {@link MemoryChannel.crash}, resets the connection (the peer reads what was sent, then
 * `-ECONNRESET`, and sees `Error` and `HangUp`); an orderly close gives the peer the rest of the
 * bytes, then end of file and `HangUp`; writing to a closed peer returns `-EPIPE`. Fds passed
 * with bytes arrive as new fake fds for the same file, with the read that returns their first byte.
 */
export class MemoryChannel implements Channel {
  /** The fake fd a poller watches. */
  readonly fd: number;
  /** The other end; what it writes, this end reads. */
  peer!: MemoryChannel;
  /** The most fds one {@link MemoryChannel.writev} may carry. */
  readonly maxFdsPerWrite: number;
  private readonly host: FdHost;
  private inbound!: Pipe;
  private outbound!: Pipe;
  private closed = false;
  /** Crashed: the code that held this end is gone, so nothing it does has an effect any more. */
  private frozen = false;
  private peerState: PeerState = PeerState.Open;
  /** A reset the peer caused, reported by the next read once the bytes before it are read. */
  private pendingReset = false;

  /** @internal Made in pairs by {@link MemoryNetwork}. */
  constructor(
    host: FdHost,
    /** The credentials of the process at the other end. */
    readonly credentials: Credentials,
    maxFdsPerWrite: number,
  ) {
    this.host = host;
    this.maxFdsPerWrite = maxFdsPerWrite;
    this.fd = host.openFd((interest) => this.readyFor(interest));
  }

  /**
   * @internal Joins two ends with a buffer of `capacity` bytes each way.
   */
  static join(a: MemoryChannel, b: MemoryChannel, capacity: number): void {
    const aToB = new Pipe(capacity);
    const bToA = new Pipe(capacity);
    a.peer = b;
    b.peer = a;
    a.outbound = b.inbound = aToB;
    b.outbound = a.inbound = bToA;
  }

  /** Bytes written to this end and not read yet. */
  get unread(): number {
    return this.inbound.bytes;
  }

  /** Whether {@link MemoryChannel.close} ran. */
  get isClosed(): boolean {
    return this.closed;
  }

  read(buffer: Uint8Array, offset: number, length: number, fds?: number[]): number {
    if (this.closed) return EBADF;
    if (this.frozen) return EAGAIN;
    const pipe = this.inbound;
    if (pipe.bytes > 0 && length > 0) return this.take(pipe, buffer, offset, length, fds);
    if (this.pendingReset) {
      // Reported once, as the kernel clears a socket's error when it reports it.
      this.pendingReset = false;
      this.host.touch();
      return ECONNRESET;
    }
    if (pipe.writerDone || length <= 0) return 0;
    return EAGAIN;
  }

  writev(chunks: readonly Uint8Array[], count: number, fds?: readonly number[]): number {
    if (this.closed) return EBADF;
    if (this.frozen) return EAGAIN;
    if (this.outbound.writerDone) return EPIPE;
    if (this.peerState === PeerState.Reset) return ECONNRESET;
    if (this.peerState === PeerState.Closed) return EPIPE;
    let files: number[] | undefined;
    if (fds !== undefined && fds.length > 0) {
      if (fds.length > this.maxFdsPerWrite) return EINVAL;
      files = [];
      for (const fd of fds) {
        const file = this.host.fileOf(fd);
        if (file === undefined) return EBADF;
        files.push(file);
      }
    }
    let total = 0;
    for (let i = 0; i < count; i++) total += chunks[i]!.length;
    if (total === 0) return 0;
    const pipe = this.outbound;
    const size = Math.min(pipe.room, total);
    if (size === 0) return EAGAIN;
    // Copied: the writer may reuse its buffers as soon as the call returns, as with a kernel.
    const bytes = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < count && at < size; i++) {
      const chunk = chunks[i]!;
      const part = Math.min(chunk.length, size - at);
      bytes.set(part === chunk.length ? chunk : chunk.subarray(0, part), at);
      at += part;
    }
    pipe.segments.push({ bytes, files });
    pipe.bytes += size;
    this.host.touch();
    return size;
  }

  duplicateFd(fd: number): number {
    const file = this.host.fileOf(fd);
    return file === undefined ? EBADF : this.host.receiveFile(file);
  }

  closeFd(fd: number): void {
    this.host.closeFd(fd);
  }

  /**
   * Closes this end and its fd. The peer reads what this end wrote, then end of file; if this end
   * left bytes unread, the peer is reset instead, as with a Unix socket. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.closeFd(this.fd);
    if (this.frozen) return;
    this.leave(this.inbound.bytes > 0 ? PeerState.Reset : PeerState.Closed);
  }

  /**
   * Shuts down this end's writing side: the peer reads the rest, then end of file, and may still
   * write to this end, which still reads. Further writes here fail with `-EPIPE`.
   */
  shutdownWrite(): void {
    if (this.closed || this.frozen || this.outbound.writerDone) return;
    this.outbound.writerDone = true;
    this.host.touch();
  }

  /**
   * The process holding this end dies: the peer reads what was written already, then
   * `-ECONNRESET`, and sees `Error` and `HangUp`. This end goes silent, as a dead process would:
   * it is never ready again, reads and writes return `-EAGAIN`, and whatever owned it (an engine
   * on a poller) hears nothing until it closes the fd.
   */
  crash(): void {
    if (this.closed || this.frozen) return;
    this.frozen = true;
    this.leave(PeerState.Reset);
  }

  private leave(how: PeerState): void {
    this.outbound.writerDone = true;
    this.inbound.discard();
    const peer = this.peer;
    peer.peerState = how;
    if (how === PeerState.Reset) peer.pendingReset = true;
    this.host.touch();
  }

  private readyFor(interest: ReadyMask): ReadyMask {
    if (this.frozen) return 0;
    const inbound = this.inbound;
    let ready = 0;
    if (inbound.bytes > 0 || inbound.writerDone || this.pendingReset) ready |= Ready.Readable;
    if (this.peerState !== PeerState.Open || this.outbound.room > 0) ready |= Ready.Writable;
    if (this.pendingReset) ready |= Ready.Error;
    // Gone both ways always counts; a peer that only shut its writing side, only while reading.
    if (this.peerState !== PeerState.Open || (inbound.writerDone && interest & Ready.Readable)) ready |= Ready.HangUp;
    return ready;
  }

  /** Moves bytes out of `pipe`; fds come with the first byte of their write, so a read stops before another write's fds. */
  private take(pipe: Pipe, buffer: Uint8Array, offset: number, length: number, fds: number[] | undefined): number {
    let taken = 0;
    while (taken < length && pipe.segments.length > 0) {
      const segment = pipe.segments[0]!;
      if (segment.files !== undefined) {
        if (taken > 0) break;
        for (const file of segment.files) {
          const fd = this.host.receiveFile(file);
          // A reader that takes no fds gets none, and none are left open behind its back.
          if (fds === undefined) this.host.closeFd(fd);
          else fds.push(fd);
        }
        segment.files = undefined;
      }
      const part = Math.min(segment.bytes.length, length - taken);
      buffer.set(part === segment.bytes.length ? segment.bytes : segment.bytes.subarray(0, part), offset + taken);
      taken += part;
      if (part === segment.bytes.length) pipe.segments.shift();
      else segment.bytes = segment.bytes.subarray(part);
    }
    pipe.bytes -= taken;
    this.host.touch();
    return taken;
  }
}

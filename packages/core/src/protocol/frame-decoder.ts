// FrameDecoder: cuts a byte stream into frames, with adaptive read chunks (protocol layer).
import { IpcError } from '../errors.js';
import { CarvedChunks } from './carved-chunks.js';
import { FrameKind, HEADER_SIZE, isMessageKind, payloadLimit } from './frame.js';
import { payloadView } from './payload-view.js';

const EMPTY = Buffer.alloc(0);
const MIN_READ_SPACE = 1024;
/** The first chunk holds a handshake (control frames are at most 1 KiB): idle connections stay small. */
const FIRST_CHUNK = 1024 + HEADER_SIZE;
/**
 * Chunk sizes adapt between these: a handshake's for idle and chatty peers, whose chunks then come
 * out of Node's Buffer pool, doubling while reads fill them, up to the largest for bulk. A drained
 * chunk whose payloads were handed out is let go, so every read of a round trip takes a fresh one:
 * with a 16 KiB floor each 64-byte request cost 16 KiB of slab, and a burst of new connections
 * left the server's malloc heap fragmented by megabytes of freed slabs.
 *
 * The largest stays below glibc's mmap threshold (128 KiB), as the 64 KiB Node reads a stream
 * into do: malloc hands such chunks out of its heap again once collected, still mapped, where a
 * 256 KiB one was mapped afresh (or trimmed and faulted back in) page by page. Measured on 4 KiB
 * requests, 64 in flight over a socket: about a quarter less server CPU per request, half the
 * page faults.
 */
const MIN_CHUNK = FIRST_CHUNK;
const MAX_CHUNK = 64 * 1024;
/** Small reads after which the largest recent frame, if none as large came since, counts half as much. */
const PEAK_FADE_READS = 16;
/**
 * The largest chunk guessed for a large frame whose header has not come yet (the size of the one
 * before): a chunk guessed too big is all kept alive by one small payload kept from it.
 */
const MAX_GUESS = 256 * 1024;
/**
 * Where the header of a frame in lent memory is copied out, so it is read once and checked where
 * nobody else writes: one for every decoder, as it is used only within one call.
 */
const LENT_HEADER = Buffer.alloc(HEADER_SIZE);
/**
 * A frame at least this big gets a chunk of exactly its size: the reads that fill it end where the
 * frame does, so no part of the next frame lands there to be moved into another chunk later.
 */
const LARGE_FRAME = 16 * 1024;
/**
 * Chunks of large frames up to a quarter of this are carved one after another out of a slab every
 * decoder of the process shares, as Node's own Buffer pool does for small buffers: allocating
 * each on its own cost 10-20x the copy of its bytes here (malloc, page faults, the collector
 * tracking one more external buffer), one slab for many frames a fraction of that. Carved memory
 * is never handed out twice; a payload kept keeps its slab alive, as it keeps its chunk.
 */
const SLAB_BYTES = 1024 * 1024;
const slabs = new CarvedChunks(SLAB_BYTES);

/** The payload length a frame header at `b[at]` states, not yet checked against any limit. */
function payloadLength(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** A new chunk of `size` bytes: carved from the shared slab when it is a large frame's. */
function newChunk(size: number): Buffer {
  if (size < LARGE_FRAME || size > SLAB_BYTES / 4) return Buffer.allocUnsafe(size);
  return slabs.carve(size);
}

/**
 * Splits a byte stream into frames. Bytes are read straight from the kernel into the decoder's
 * chunk ({@link FrameDecoder.buffer} at {@link FrameDecoder.end}), and each payload is handed out
 * as a view of that chunk: one copy from kernel to user space, none after.
 *
 * A chunk whose bytes were handed out is never written again (the receiver may keep the
 * payload); the decoder moves on to a fresh chunk instead, carrying over only the unparsed tail.
 * A large frame gets a chunk of exactly its own size: as soon as its header is known, or before,
 * when the frame before it was as large (bulk traffic repeats its sizes), so its bytes land in
 * place and the tail of one chunk is not copied into the next.
 *
 * Chunks start small, so an idle connection holds little, and double while reads fill them, so
 * bulk traffic moves in few system calls; they shrink again when reads bring little. A chunk
 * fully parsed and shared is let go of at once, so an idle connection holds none.
 */
export class FrameDecoder {
  /** Kind of the last frame {@link FrameDecoder.next} returned. */
  kind = 0;
  /** Command or event id of the last frame. */
  code = 0;
  /** Request id of the last frame. */
  id = 0;
  /** How many fds travel with the last frame. */
  fdCount = 0;
  /**
   * Payload of the last frame: a view that stays valid for as long as the receiver keeps it, or,
   * when {@link FrameDecoder.lent}, a view of lent memory valid only until the receiver returns.
   */
  payload: Buffer = EMPTY;
  /** Whether the last frame came from {@link FrameDecoder.nextLent}: its payload is lent memory. */
  lent = false;
  /** Largest request, response or event payload accepted; changed once the handshake agrees one. */
  maxMessage: number;
  /** The most fds a request, response or event may say it carries: what this side takes. */
  maxFds = 0;

  /** The chunk to read into, at {@link FrameDecoder.end}, for up to {@link FrameDecoder.space} bytes. */
  buffer: Buffer = EMPTY;
  /** Where the next read lands in {@link FrameDecoder.buffer}. */
  end = 0;
  private start = 0;
  private handedOut = false;
  private chunkSize = FIRST_CHUNK;
  /** Size of the last whole frame: the best guess of the next one's. */
  private lastFrame = 0;
  /**
   * The largest frame of late, halved after every `PEAK_FADE_READS` small reads in which none as
   * large came: a chunk shrinks no further, so a frame of a size that comes back among smaller
   * ones is still read whole.
   */
  private peakFrame = 0;
  /** Small reads since {@link FrameDecoder.peakFrame} was last set or halved. */
  private smallReads = 0;

  constructor(maxMessage: number) {
    this.maxMessage = maxMessage;
  }

  /** Bytes received but not yet returned as frames. */
  get pending(): number {
    return this.end - this.start;
  }

  /**
   * Bytes that complete the next frame's header, or once that is buffered, the frame: reading no
   * more than this ends a read at a frame's end.
   *
   * @throws {@link IpcError} `EPROTO` or `EMSGSIZE` when the pending header is invalid.
   */
  get missing(): number {
    const pending = this.end - this.start;
    if (pending < HEADER_SIZE) return HEADER_SIZE - pending;
    return HEADER_SIZE + this.checkHeader(this.buffer, this.start) - pending;
  }

  /**
   * Bytes of read memory this decoder keeps for the peer: its chunk from the first byte not yet
   * returned as a frame (all of it while no payload views it), filled or set aside for what is
   * to come. A budget counts this rather than {@link FrameDecoder.pending}: a frame's header alone
   * has {@link FrameDecoder.reserve} set room aside.
   */
  get held(): number {
    if (!this.handedOut) return this.buffer.length;
    return this.end === this.start ? 0 : this.buffer.length - this.start;
  }

  /**
   * Whether what is {@link FrameDecoder.held} already holds a whole frame, or room for more of
   * one: handing that frame over or filling that room takes no memory a budget has not counted.
   */
  get hasFrameOrRoom(): boolean {
    const pending = this.end - this.start;
    if (this.held > pending) return true;
    if (pending < HEADER_SIZE) return false;
    return pending >= HEADER_SIZE + payloadLength(this.buffer, this.start);
  }

  /** Room left at {@link FrameDecoder.end}; call {@link FrameDecoder.reserve} first. */
  get space(): number {
    return this.buffer.length - this.end;
  }

  /**
   * Makes room for the next read: rewinds an unshared chunk, or moves the unparsed tail to a new
   * chunk big enough for the frame it starts, but with room for at most `most` bytes beyond those
   * pending (a budget's room: the chunk grows again, moving what came, once the budget has more).
   *
   * @throws {@link IpcError} `EMSGSIZE` or `EPROTO` when the pending header is invalid.
   */
  reserve(most = Number.POSITIVE_INFINITY): void {
    const pending = this.end - this.start;
    if (pending === 0 && !this.handedOut && this.buffer.length > 0) {
      this.start = this.end = 0;
      return;
    }
    // The rest of a drained chunk whose payloads were handed out is held by nobody now: reading
    // into it would hold all of it at once, more than the budget may have room for.
    if (pending === 0 && this.handedOut && this.buffer.length - this.start > most) this.releaseDrained();
    const missing = this.missing;
    const needed = pending + Math.min(missing, most);
    const room = this.buffer.length - this.start;
    // Stay when the frame fits. With its length unknown, stay only if a frame like the last one
    // still fits too: reading the start of one into a chunk's tail would mean copying it later.
    if (needed <= room && (pending >= HEADER_SIZE || this.space >= Math.max(MIN_READ_SPACE, this.lastFrame))) return;
    // Room the budget cuts short is filled before it grows: growing by a little at each read would
    // move what came at each read.
    if (most < missing && this.space > 0) return;
    if (!this.handedOut && needed <= this.buffer.length) {
      this.buffer.copyWithin(0, this.start, this.end);
      this.start = 0;
      this.end = pending;
    } else {
      this.moveTo(Math.min(this.nextChunkSize(pending >= HEADER_SIZE ? needed : 0), pending + most));
    }
  }

  /**
   * After a read, fits a chunk larger than a read chunk to the frame the read left unfinished,
   * behind the whole frames it brought, while the room that read was granted still holds: that
   * frame gets a chunk with room for all of it when that is no more than `most` bytes beyond those
   * pending; one whose header is not whole gets room for its header only, so that the next read
   * decides with the header in hand; and a chunk that received nothing is let go of. Room left
   * behind whole frames in a chunk guessed from the last frame's size would otherwise be filled
   * with part of a larger frame by a read under a shut budget: memory the budget counts and the
   * frame cannot use until the budget opens again.
   *
   * @throws {@link IpcError} `EMSGSIZE` or `EPROTO` when a pending header is invalid.
   */
  fitRoom(most: number): void {
    if (this.buffer.length - this.start <= MAX_CHUNK) return;
    const b = this.buffer;
    let at = this.start;
    for (let available = this.end - at; available >= HEADER_SIZE; available = this.end - at) {
      const total = HEADER_SIZE + this.checkHeader(b, at);
      if (available < total) break;
      at += total;
    }
    const unfinished = this.end - at;
    let room: number;
    if (unfinished >= HEADER_SIZE) {
      room = HEADER_SIZE + this.checkHeader(b, at) - unfinished;
      if (room <= this.space || room > most) return;
    } else if (unfinished > 0) {
      room = HEADER_SIZE - unfinished;
      if (room >= this.space) return;
    } else {
      // Nothing came, or whole frames only, whose handing over lets go of the chunk.
      if (this.end === this.start) this.releaseDrained();
      return;
    }
    this.moveTo(this.end - this.start + room);
  }

  /** Moves the pending bytes to the start of a new chunk of `size` bytes. */
  private moveTo(size: number): void {
    const pending = this.end - this.start;
    const next = newChunk(size);
    this.buffer.copy(next, 0, this.start, this.end);
    this.buffer = next;
    this.start = 0;
    this.end = pending;
    this.handedOut = false;
  }

  /**
   * The size of a new chunk for a frame of `needed` bytes (0 while its header is incomplete): a
   * large frame's own size, so the read that fills it ends where the frame does; else the
   * adaptive size, at least the last frame's so the next one like it fits whole, or the last
   * frame's size again while frames are large, up to `MAX_GUESS`.
   */
  private nextChunkSize(needed: number): number {
    if (needed >= LARGE_FRAME) return needed;
    if (needed > 0) return Math.max(this.chunkSize, needed);
    if (this.lastFrame >= LARGE_FRAME) return Math.min(this.lastFrame, MAX_GUESS);
    return Math.max(this.chunkSize, this.lastFrame);
  }

  /**
   * Lets go of a chunk that is fully parsed and shared with the receiver (the next read needs a
   * fresh one anyway), or larger than a handshake's: an idle connection then holds a small chunk
   * at most, not one a large frame (or a guess at the next) left behind.
   */
  releaseDrained(): void {
    if (this.start === this.end && (this.handedOut || this.buffer.length > FIRST_CHUNK)) {
      this.buffer = EMPTY;
      // The last payload, already handed over, is a view that would keep the whole chunk alive.
      this.payload = EMPTY;
      this.start = this.end = 0;
      this.handedOut = false;
    }
  }

  /** Records that `bytes` were read into {@link FrameDecoder.buffer} at {@link FrameDecoder.end}. */
  commit(bytes: number): void {
    if (bytes === this.buffer.length - this.end) this.chunkSize = Math.min(MAX_CHUNK, this.chunkSize * 2);
    else if (bytes < this.chunkSize >>> 4) {
      if (++this.smallReads === PEAK_FADE_READS) {
        this.smallReads = 0;
        this.peakFrame >>>= 1;
      }
      this.chunkSize = Math.max(MIN_CHUNK, this.chunkSize >>> 1, Math.min(this.peakFrame, MAX_CHUNK));
    }
    this.end += bytes;
  }

  /**
   * Whether a complete frame is buffered, for {@link FrameDecoder.next} to return.
   *
   * @throws {@link IpcError} `EPROTO` for a malformed header, `EMSGSIZE` for an oversize length.
   */
  hasFrame(): boolean {
    const available = this.end - this.start;
    return available >= HEADER_SIZE && available >= HEADER_SIZE + this.checkHeader(this.buffer, this.start);
  }

  /**
   * Decodes the next complete frame into {@link FrameDecoder.kind}, `code`, `id` and `payload`.
   *
   * @returns false when no complete frame is buffered.
   * @throws {@link IpcError} `EPROTO` for a malformed header, `EMSGSIZE` for an oversize length.
   */
  next(): boolean {
    const start = this.start;
    const available = this.end - start;
    if (available < HEADER_SIZE) return false;
    const b = this.buffer;
    const length = this.checkHeader(b, start);
    const total = HEADER_SIZE + length;
    if (available < total) return false;
    this.takeHeader(b, start);
    if (length === 0) {
      this.payload = EMPTY;
    } else {
      // Straight from the ArrayBuffer: subarray() would look up a species constructor per call.
      this.payload = payloadView(b.buffer, b.byteOffset + start + HEADER_SIZE, length);
      this.handedOut = true;
    }
    this.lent = false;
    this.start = start + total;
    this.sawFrame(total);
    return true;
  }

  /**
   * Decodes the frame at `span[at …]`, memory a channel lends (its `lend`) whose writer
   * may change it at any moment: the header is copied out once, and only the copy is checked and
   * used. The payload is a view of `span` ({@link FrameDecoder.lent}); nothing is buffered here,
   * so call this only while {@link FrameDecoder.pending} is 0. `memory` and `base` are
   * `span.buffer` and `span.byteOffset`, read once per lend by the caller: reading them per frame
   * cost about 20 ns, as much as making the payload view.
   *
   * @returns the frame's size, header included, or 0 when `span` does not hold all of it
   * @throws {@link IpcError} `EPROTO` for a malformed header, `EMSGSIZE` for an oversize length.
   */
  nextLent(span: Uint8Array, at: number, memory: ArrayBufferLike, base: number): number {
    const available = span.length - at;
    if (available < HEADER_SIZE) return 0;
    const header = LENT_HEADER;
    for (let i = 0; i < HEADER_SIZE; i++) header[i] = span[at + i]!;
    const length = this.checkHeader(header, 0);
    const total = HEADER_SIZE + length;
    if (available < total) return 0;
    this.takeHeader(header, 0);
    this.payload = length === 0 ? EMPTY : payloadView(memory, base + at + HEADER_SIZE, length);
    this.lent = true;
    this.sawFrame(total);
    return total;
  }

  /** Records the size of a whole frame, header included, for the sizes of chunks to come. */
  private sawFrame(total: number): void {
    this.lastFrame = total;
    if (total < this.peakFrame) return;
    this.peakFrame = total;
    this.smallReads = 0;
  }

  /** Sets the fields of the frame whose checked header is at `b[at]`. */
  private takeHeader(b: Uint8Array, at: number): void {
    this.kind = b[at + 4]!;
    this.code = b[at + 6]! | (b[at + 7]! << 8);
    this.id = (b[at + 8]! | (b[at + 9]! << 8) | (b[at + 10]! << 16) | (b[at + 11]! << 24)) >>> 0;
    this.fdCount = b[at + 5]!;
  }

  /** Validates the header at `at` and returns its payload length. */
  private checkHeader(b: Uint8Array, at: number): number {
    const length = payloadLength(b, at);
    const kind = b[at + 4]!;
    if (kind < FrameKind.Hello || kind > FrameKind.Goodbye) {
      throw new IpcError(
        'EPROTO',
        `malformed frame header (kind ${kind}): the peer does not speak the pollux protocol`,
      );
    }
    const fdCount = b[at + 5]!;
    if (fdCount !== 0 && (fdCount > this.maxFds || !isMessageKind(kind))) {
      throw new IpcError(
        'EPROTO',
        isMessageKind(kind)
          ? `frame says it carries ${fdCount} fds, more than the ${this.maxFds} this side agreed to take`
          : `malformed frame header (kind ${kind} with ${fdCount} fds): the peer does not speak the pollux protocol`,
      );
    }
    const limit = payloadLimit(kind, this.maxMessage);
    if (length > limit) {
      throw new IpcError('EMSGSIZE', `frame of ${length} bytes exceeds the agreed limit of ${limit} bytes`);
    }
    return length;
  }
}

// SendQueue: frames waiting to be written, batched into writev calls (link layer).
import { EAGAIN } from '../errors.js';
import { HEADER_SIZE, writeHeader } from '../protocol/frame.js';
import { closeAll } from './received-fds.js';
import { isLent } from './lent-memory.js';
import type { Channel } from '../contracts/transport.js';

/**
 * Slabs start small and double with each burst that fills one; a queue written out lets go of
 * its slab, so an idle connection holds none.
 */
const SLAB_MIN = 2 * 1024;
const SLAB_MAX = 64 * 1024;
/** Payloads up to this size are copied next to their header, so many frames go out as one chunk. */
const COPY_MAX = 1024;
/** Chunks offered to one `writev`; the kernel's IOV_MAX is far above, this keeps the call cheap. */
const WRITE_BATCH = 256;
const NO_SLAB = Buffer.alloc(0);
/** How many written-out slabs of each size wait for reuse, at most: about 1 MiB over all sizes. */
const SPARE_SLABS = 8;
/**
 * Slabs of queues that were written out, by size (`SLAB_MIN << i`), for the next burst of any
 * queue to reuse: a write copies a slab's bytes into the kernel (or a ring) and keeps no view, so
 * nothing points into it any more. A slab taken from here is memory still mapped and warm in the
 * cache, where a fresh one from malloc was often trimmed away after a collection and faulted back
 * in page by page: measured on 4 KiB requests over shared memory, 64 in flight, that was a third
 * of the server's CPU per request.
 */
const spareSlabs: Buffer[][] = [];
for (let size = SLAB_MIN; size <= SLAB_MAX; size *= 2) spareSlabs.push([]);

function sparesOf(size: number): Buffer[] {
  return spareSlabs[Math.clz32(SLAB_MIN) - Math.clz32(size)]!;
}

/**
 * Outgoing frames waiting for the kernel. Headers and small payloads are written into a slab, so
 * a burst of small frames leaves in one system call from one contiguous chunk; a large payload is
 * queued by reference and never copied in user space. A queue written out gives its slab back
 * to a few spares every queue shares and takes one for its next burst: an idle connection holds
 * no slab, and a busy one reuses memory that is still mapped.
 *
 * A large payload lent by the link's own channel ({@link SendQueue.lend}) is queued by reference
 * too: the link writes it before the channel gets the memory back, and {@link SendQueue.keepLent}
 * copies what could not be written. Lent memory of anything else is copied as it is queued.
 *
 * A frame that carries fds starts a chunk of its own, and each write stops short of the next such
 * chunk, so the fds leave with their frame's first byte (see frame.ts). The queue owns those fds
 * (duplicates the caller made for it) and closes them once sent, or when it is discarded.
 *
 * A queued payload must not be changed by the caller until it has been written.
 */
export class SendQueue {
  /** Bytes queued and not yet accepted by the kernel. */
  bytes = 0;
  /** Fds queued with frames not yet sent: each holds a slot of this process's fd table. */
  fds = 0;
  /** Frames queued since the queue was last written out. */
  frames = 0;
  private readonly chunks: Uint8Array[] = [];
  private slabSize = SLAB_MIN;
  private slab: Buffer = NO_SLAB;
  private slabEnd = 0;
  private regionStart = 0;
  /** Chunks written and dropped so far: with it, a chunk's number survives the array's shifts. */
  private chunksDropped = 0;
  /**
   * Frames with fds waiting, oldest first: the number of the chunk each starts, and its fds. Made
   * with the first such frame: most connections never send an fd.
   */
  private fdFrames: { chunk: number; fds: number[] }[] | undefined;
  /** The memory the link's channel lends now: payloads viewing it are queued by reference. */
  private lent: ArrayBufferLike | undefined;
  /** Chunks queued that view {@link SendQueue.lent} since the queue was last written out. */
  private lentQueued = 0;

  /**
   * Queues one frame; `fds`, if any, become the queue's (they travel with the frame's first
   * byte, and are closed once sent or discarded). A payload in lent memory (see lent-memory.ts)
   * is copied rather than queued by reference, unless it is the memory of the link's own lend.
   */
  push(kind: number, code: number, id: number, payload: Uint8Array, fds?: number[]): void {
    const length = payload.length;
    let fdCount = 0;
    if (fds !== undefined && fds.length > 0) {
      this.closeRegion();
      (this.fdFrames ??= []).push({ chunk: this.chunksDropped + this.chunks.length, fds });
      fdCount = fds.length;
      this.fds += fdCount;
    }
    if (length <= COPY_MAX) {
      const size = HEADER_SIZE + length;
      if (this.slab.length - this.slabEnd < size) this.replaceSlab();
      writeHeader(this.slab, this.slabEnd, length, kind, code, id, fdCount);
      if (length > 0) this.slab.set(payload, this.slabEnd + HEADER_SIZE);
      this.slabEnd += size;
    } else {
      if (this.slab.length - this.slabEnd < HEADER_SIZE) this.replaceSlab();
      writeHeader(this.slab, this.slabEnd, length, kind, code, id, fdCount);
      this.slabEnd += HEADER_SIZE;
      this.closeRegion();
      if (!isLent(payload)) {
        this.chunks.push(payload);
      } else if (payload.buffer === this.lent) {
        this.chunks.push(payload);
        this.lentQueued++;
      } else {
        this.chunks.push(Buffer.from(payload));
      }
    }
    this.bytes += HEADER_SIZE + length;
    this.frames++;
  }

  /**
   * Starts a lend of `memory` by the link's channel: payloads viewing it are queued by reference
   * until {@link SendQueue.keepLent}, which the link calls before the channel gets it back.
   */
  lend(memory: ArrayBufferLike): void {
    this.lent = memory;
  }

  /** Whether payloads of the current lend were queued by reference and may still wait to be written. */
  get holdsLent(): boolean {
    return this.lentQueued > 0;
  }

  /** Ends the lend: copies the payloads of lent memory that are still queued into memory of their own. */
  keepLent(): void {
    const lent = this.lent;
    this.lent = undefined;
    if (this.lentQueued === 0) return;
    this.lentQueued = 0;
    const chunks = this.chunks;
    for (let i = 0; i < chunks.length; i++) {
      if (chunks[i]!.buffer === lent) chunks[i] = Buffer.from(chunks[i]!);
    }
  }

  /**
   * Writes as much as the channel takes now.
   *
   * @returns 0 when everything was written or the channel is full (check {@link SendQueue.bytes}),
   * or the negative errno the channel reported.
   */
  flush(channel: Channel): number {
    this.closeRegion();
    const chunks = this.chunks;
    while (chunks.length > 0) {
      let count = Math.min(chunks.length, WRITE_BATCH);
      let fds: number[] | undefined;
      const fdFrames = this.fdFrames;
      if (fdFrames !== undefined && fdFrames.length > 0) {
        // A write carries the fds of the frame it starts with, and ends before the next frame with fds.
        const next = fdFrames[0]!.chunk - this.chunksDropped;
        if (next === 0) {
          fds = fdFrames[0]!.fds;
          if (fdFrames.length > 1) count = Math.min(count, fdFrames[1]!.chunk - this.chunksDropped);
        } else {
          count = Math.min(count, next);
        }
      }
      let offered = 0;
      for (let i = 0; i < count; i++) offered += chunks[i]!.length;
      const written = channel.writev(chunks, count, fds);
      if (written < 0) return written === EAGAIN ? 0 : written;
      if (fds !== undefined) {
        // Sent with the first byte: the peer has its own copies now.
        fdFrames!.shift();
        this.fds -= fds.length;
        closeAll(fds, (fd) => channel.closeFd!(fd));
      }
      this.bytes -= written;
      if (this.bytes === 0) {
        this.frames = 0;
        this.chunksDropped += chunks.length;
        chunks.length = 0;
        this.lentQueued = 0;
        // A burst that used little of a big slab is over: the next one starts smaller.
        if (this.slabEnd < this.slabSize >>> 2) this.slabSize = Math.max(SLAB_MIN, this.slabSize >>> 1);
        if (this.slab !== NO_SLAB) {
          const spares = sparesOf(this.slab.length);
          if (spares.length < SPARE_SLABS) spares.push(this.slab);
          this.slab = NO_SLAB;
        }
        this.slabEnd = this.regionStart = 0;
        return 0;
      }
      this.dropWritten(written);
      if (written < offered) return 0;
    }
    return 0;
  }

  private dropWritten(written: number): void {
    const chunks = this.chunks;
    let done = 0;
    let left = written;
    while (left > 0 && left >= chunks[done]!.length) left -= chunks[done++]!.length;
    if (left > 0) chunks[done] = chunks[done]!.subarray(left);
    chunks.splice(0, done);
    this.chunksDropped += done;
  }

  /** Closes the fds of frames that never left: the link ended with them queued. */
  closeUnsentFds(channel: Channel): void {
    if (this.fdFrames === undefined) return;
    for (const frame of this.fdFrames) closeAll(frame.fds, (fd) => channel.closeFd!(fd));
    this.fdFrames.length = 0;
    this.fds = 0;
  }

  private closeRegion(): void {
    if (this.slabEnd > this.regionStart) {
      this.chunks.push(this.slab.subarray(this.regionStart, this.slabEnd));
      this.regionStart = this.slabEnd;
    }
  }

  private replaceSlab(): void {
    // The old slab stays alive through the chunks that still point into it.
    this.closeRegion();
    if (this.slab !== NO_SLAB) this.slabSize = Math.min(SLAB_MAX, this.slabSize * 2);
    this.slab = sparesOf(this.slabSize).pop() ?? Buffer.allocUnsafe(this.slabSize);
    this.slabEnd = this.regionStart = 0;
  }
}

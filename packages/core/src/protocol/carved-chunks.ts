// CarvedChunks: buffers carved one after another out of shared chunks, one allocation for many.

/**
 * Hands out buffers carved one after another out of a chunk it allocates, and allocates a fresh
 * chunk when the rest of the current one is too small, as Node's own Buffer pool does for small
 * buffers: one allocation (and one external buffer for the collector to track) for many. Carved
 * memory is never handed out twice; a buffer kept alive keeps its whole chunk alive.
 */
export class CarvedChunks {
  private chunk: Buffer = Buffer.alloc(0);
  private used = 0;

  /** @param chunkBytes - the size of each chunk: the most one {@link CarvedChunks.carve} may ask for */
  constructor(private readonly chunkBytes: number) {}

  /** A buffer of `size` bytes, at most the chunk size; its bytes are whatever the chunk held. */
  carve(size: number): Buffer {
    if (this.chunk.length - this.used < size) {
      this.chunk = Buffer.allocUnsafe(this.chunkBytes);
      this.used = 0;
    }
    this.used += size;
    return this.chunk.subarray(this.used - size, this.used);
  }
}

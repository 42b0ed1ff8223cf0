// keptCopy: a copy of lent bytes for a receiver to keep, carved from a chunk many copies share.
import { CarvedChunks } from '../protocol/carved-chunks.js';

/**
 * Copies of at most this many bytes share chunks of {@link CHUNK_BYTES}; Node's own Buffer pool
 * takes those under half its 8 KiB, and larger ones get memory of their own.
 */
const SHARED_MAX = 16 * 1024;
/** Below glibc's mmap threshold (128 KiB): a chunk comes from the heap, not fresh mapped pages. */
const CHUNK_BYTES = 64 * 1024;
const chunks = new CarvedChunks(CHUNK_BYTES);

/**
 * A copy of `bytes` (memory a channel lent, valid only for now) that the receiver may keep for
 * as long as it likes. Copies of a few KiB are carved one after another out of a chunk all
 * connections share, as a decoder's payloads share the chunk they were read into: allocating
 * each on its own (an ArrayBuffer, tracked by the collector) cost more than copying it. A copy
 * kept alive keeps its chunk alive.
 */
export function keptCopy(bytes: Uint8Array): Buffer {
  const size = bytes.length;
  if (size < Buffer.poolSize >>> 1 || size > SHARED_MAX) return Buffer.from(bytes);
  const copy = chunks.carve(size);
  copy.set(bytes);
  return copy;
}

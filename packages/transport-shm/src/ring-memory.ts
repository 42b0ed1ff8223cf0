// A side's ring memory: made, mapped and sealed by its owner; checked and mapped read-only by the peer.
import { fstatSync, ftruncateSync } from 'node:fs';
import { constants } from 'node:os';
import * as sys from '@pollux/sys';
import { HEADER_BYTES, isRingSize } from './ring.js';

const { EPROTO } = constants.errno;

/**
 * The seals a peer's memory must carry before it is mapped: nobody can map it writable or write
 * it any more (its owner keeps its own earlier mapping), nor change its size (a shrink would make
 * our mapping fault with SIGBUS), nor remove a seal.
 */
export const RING_SEALS = sys.F_SEAL_FUTURE_WRITE | sys.F_SEAL_SHRINK | sys.F_SEAL_GROW | sys.F_SEAL_SEAL;

/** One side's memory as mapped here: control words, then the ring's data. */
export interface RingMemory {
  readonly mapping: ArrayBuffer;
  /** The control words ({@link Word}), for `Atomics`. Never written through when the mapping is the peer's. */
  readonly words: Int32Array;
  /** The ring's data. Never written through when the mapping is the peer's. */
  readonly data: Uint8Array;
  readonly capacity: number;
}

function view(mapping: ArrayBuffer, capacity: number): RingMemory {
  return {
    mapping,
    words: new Int32Array(mapping, 0, HEADER_BYTES / 4),
    data: new Uint8Array(mapping, HEADER_BYTES, capacity),
    capacity,
  };
}

/**
 * Makes this side's memory: a memfd of the header and a `capacity`-byte ring, mapped read-write
 * here, then sealed with {@link RING_SEALS}, so the fd handed to the peer can never be used to
 * write it (not even reopened read-write through `/proc/<pid>/fd`).
 *
 * @returns the memory and the memfd to send (the caller closes it once sent), or `-errno`
 */
export function createRingMemory(capacity: number): { memory: RingMemory; fd: number } | number {
  const fd = sys.memfdCreate('pollux-shm-ring');
  if (fd < 0) return fd;
  let mapping: ArrayBuffer | number = -EPROTO;
  try {
    ftruncateSync(fd, HEADER_BYTES + capacity);
    mapping = sys.mmap(fd, HEADER_BYTES + capacity, true);
    if (typeof mapping === 'number') {
      sys.close(fd);
      return mapping;
    }
    const sealed = sys.addSeals(fd, RING_SEALS);
    if (sealed < 0) throw Object.assign(new Error('addSeals'), { errno: sealed });
    return { memory: view(mapping, capacity), fd };
  } catch (error) {
    if (typeof mapping !== 'number') sys.unmap(mapping);
    sys.close(fd);
    const errno = (error as { errno?: number }).errno;
    return typeof errno === 'number' ? -Math.abs(errno) : -EPROTO;
  }
}

/**
 * Maps a peer's memory read-only after checking that the peer can no longer change it under us:
 * it must be a memfd carrying every seal of {@link RING_SEALS}, sized a header plus a ring
 * {@link isRingSize} accepts. Leaves `fd` open (the caller closes it).
 *
 * @returns the memory, or why it was refused: a description for the error message
 */
export function mapPeerMemory(fd: number): RingMemory | string {
  const seals = sys.getSeals(fd);
  if (seals < 0) return `the peer's ring is no memfd (${sys.errnoName(seals)})`;
  if ((seals & RING_SEALS) !== RING_SEALS)
    return `the peer's ring is not sealed against writes and resizing (seals 0x${seals.toString(16)})`;
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (error) {
    return `the peer's ring cannot be inspected (${String(error)})`;
  }
  const capacity = size - HEADER_BYTES;
  if (!isRingSize(capacity)) return `the peer's ring has a size of ${size} bytes, not a header and a power of two`;
  const mapping = sys.mmap(fd, size, false);
  if (typeof mapping === 'number') return `the peer's ring cannot be mapped (${sys.errnoName(mapping)})`;
  return view(mapping, capacity);
}

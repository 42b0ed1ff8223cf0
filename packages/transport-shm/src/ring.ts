// The ring's memory layout and index arithmetic: pure functions, each index read once and checked.

/**
 * Bytes before the ring's data in each side's memory: the control words, each on a cache line of
 * its own so the two processes never write the same line.
 */
export const HEADER_BYTES = 4096;

/**
 * Int32 positions of the control words in a side's memory. The side that owns the memory is the
 * only one that writes them; the peer maps it read-only.
 */
export const Word = {
  /** Bytes this side has written into its ring, ever (wrapping at 2^32): the producer's index. */
  Written: 0,
  /** Non-zero while this side, as producer, sleeps until the peer makes room: a sleep generation. */
  WantsRoom: 16,
  /** Bytes this side has consumed from the peer's ring, ever (wrapping at 2^32): the consumer's index. */
  Consumed: 32,
  /** Non-zero while this side, as consumer, sleeps until the peer writes: a sleep generation. */
  WantsData: 48,
  /**
   * Non-zero once this side closed the connection: writes to it fail with `EPIPE` at once, as on
   * a socket whose peer closed, with no system call to find out. A process that dies never sets it;
   * its socket's end tells.
   */
  Closed: 64,
} as const;

/** A sleep flag's position: {@link Word.WantsRoom} or {@link Word.WantsData}. */
export type SleepFlag = typeof Word.WantsRoom | typeof Word.WantsData;

/** The smallest ring accepted from a peer or configured. */
export const MIN_RING_BYTES = 4096;
/** The largest ring accepted from a peer or configured: 16 MiB. */
export const MAX_RING_BYTES = 1 << 24;

/** Whether `bytes` is a usable ring size: a power of two in {@link MIN_RING_BYTES}–{@link MAX_RING_BYTES}. */
export function isRingSize(bytes: number): boolean {
  return Number.isInteger(bytes) && bytes >= MIN_RING_BYTES && bytes <= MAX_RING_BYTES && (bytes & (bytes - 1)) === 0;
}

/**
 * How many bytes lie between two wrapping indices, `ahead - behind` modulo 2^32, or -1 when that
 * exceeds `capacity`: indices no honest peer can produce (one ran backwards, past the other, or
 * was scribbled over), which end the connection.
 *
 * @param ahead - the producer's index (bytes written)
 * @param behind - the consumer's index (bytes consumed)
 * @param capacity - the ring's size
 */
export function distance(ahead: number, behind: number, capacity: number): number {
  const bytes = (ahead - behind) >>> 0;
  return bytes > capacity ? -1 : bytes;
}

/**
 * Copies `length` bytes out of `ring` (`capacity` bytes, a power of two) starting at the wrapping
 * index `from`, into `target[offset …]`: in two pieces when they wrap around the end.
 */
export function copyOut(
  ring: Uint8Array,
  capacity: number,
  from: number,
  target: Uint8Array,
  offset: number,
  length: number,
): void {
  const start = from & (capacity - 1);
  const first = Math.min(length, capacity - start);
  target.set(ring.subarray(start, start + first), offset);
  if (first < length) target.set(ring.subarray(0, length - first), offset + first);
}

/**
 * Copies `chunks[0 .. count)` in order into `ring` at the wrapping index `at`, at most `room`
 * bytes, wrapping around the end. Returns the bytes copied.
 */
export function copyIn(
  ring: Uint8Array,
  capacity: number,
  at: number,
  chunks: readonly Uint8Array[],
  count: number,
  room: number,
): number {
  const mask = capacity - 1;
  let copied = 0;
  for (let i = 0; i < count && copied < room; i++) {
    const chunk = chunks[i]!;
    const length = Math.min(chunk.length, room - copied);
    const start = (at + copied) & mask;
    const first = Math.min(length, capacity - start);
    ring.set(first === chunk.length ? chunk : chunk.subarray(0, first), start);
    if (first < length) ring.set(chunk.subarray(first, length), 0);
    copied += length;
  }
  return copied;
}

/** The next sleep generation after `generation`: never 0, which means "awake". */
export function nextGeneration(generation: number): number {
  return generation >= 0x7fffffff ? 1 : generation + 1;
}

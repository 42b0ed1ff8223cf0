/** A deterministic payload for (seed, index, size): both ends can rebuild and compare it. */
export function patternPayload(seed: number, index: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = (seed * 2654435761 + index * 40503 + size) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

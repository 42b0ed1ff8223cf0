import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keptCopy } from '../src/link/kept-copy.js';

describe('keptCopy', () => {
  it('returns copies that stay intact whatever is copied after them and whatever becomes of their source', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20_000 }), { minLength: 1, maxLength: 60 }), (sizes) => {
        const kept = sizes.map((size, i) => {
          // Lent memory: rewritten by its writer as soon as the lend ends.
          const lent = new Uint8Array(size).fill((i * 7 + 1) & 0xff);
          const copy = keptCopy(lent);
          lent.fill(0xee);
          return copy;
        });
        kept.forEach((copy, i) => {
          expect(copy.length).toBe(sizes[i]);
          expect(copy.every((byte) => byte === ((i * 7 + 1) & 0xff))).toBe(true);
        });
      }),
      { numRuns: 100 },
    );
  });

  it('carves copies of a few KiB out of one shared chunk instead of allocating each', () => {
    const copies = Array.from({ length: 8 }, () => keptCopy(new Uint8Array(4096)));
    expect(new Set(copies.map((copy) => copy.buffer)).size).toBeLessThanOrEqual(2);
    // Large ones get memory of their own: one kept does not hold a chunk of others alive.
    const large = [keptCopy(new Uint8Array(65_536)), keptCopy(new Uint8Array(65_536))];
    expect(large[0]!.buffer).not.toBe(large[1]!.buffer);
    expect(large[0]!.buffer.byteLength).toBeLessThan(2 * 65_536);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyIn, copyOut, distance, isRingSize, nextGeneration } from '../src/ring.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('ring indices', () => {
  it('measures the bytes between two wrapping indices, and refuses any distance past the capacity', () => {
    fc.assert(
      fc.property(
        u32,
        fc.integer({ min: 0, max: 4096 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (behind, gap, junk) => {
          const ahead = (behind + gap) >>> 0;
          // As the engine stores them: signed 32-bit words.
          expect(distance(ahead | 0, behind | 0, 4096)).toBe(gap);
          const hostile = (behind + 4097 + (junk % (0x100000000 - 4097))) >>> 0;
          expect(distance(hostile | 0, behind, 4096)).toBe(-1);
        },
      ),
    );
  });

  it('accepts as ring sizes only powers of two from 4 KiB to 16 MiB', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 1 << 25 }), (bytes) => {
        const power = bytes > 0 && (bytes & (bytes - 1)) === 0;
        expect(isRingSize(bytes)).toBe(power && bytes >= 4096 && bytes <= 1 << 24);
      }),
    );
    expect(isRingSize(Number.NaN)).toBe(false);
    expect(isRingSize(8192.5)).toBe(false);
  });

  it('never makes 0, which means awake, a sleep generation', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fffffff }), (generation) => {
        expect(nextGeneration(generation)).not.toBe(0);
      }),
    );
  });
});

describe('ring copies', () => {
  it('streams any sequence of writes and reads through a small ring byte for byte, wrapping anywhere', () => {
    const capacity = 64;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.array(
          fc.tuple(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 4 }), fc.integer({ min: 0, max: 100 })),
        ),
        (start, steps) => {
          const ring = new Uint8Array(capacity);
          let written = start;
          let consumed = start;
          const sent: number[] = [];
          const received: number[] = [];
          for (const [chunks, want] of steps) {
            const room = capacity - distance(written, consumed, capacity);
            const n = copyIn(ring, capacity, written, chunks, chunks.length, room);
            expect(n).toBe(
              Math.min(
                room,
                chunks.reduce((sum, chunk) => sum + chunk.length, 0),
              ),
            );
            sent.push(...chunks.flatMap((chunk) => [...chunk]).slice(0, n));
            written = (written + n) >>> 0;
            const unread = distance(written, consumed, capacity);
            expect(unread).toBeGreaterThanOrEqual(0);
            const take = Math.min(unread, want);
            const target = new Uint8Array(take + 3);
            copyOut(ring, capacity, consumed, target, 3, take);
            received.push(...target.subarray(3));
            consumed = (consumed + take) >>> 0;
          }
          expect(received).toEqual(sent.slice(0, received.length));
        },
      ),
    );
  });
});

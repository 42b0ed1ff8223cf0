import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/client/backoff.js';

const policyArb = fc
  .record({
    initialDelay: fc.double({ min: 0.001, max: 10_000, noNaN: true }),
    spread: fc.double({ min: 1, max: 1000, noNaN: true }),
  })
  .map(({ initialDelay, spread }) => ({ initialDelay, maxDelay: initialDelay * spread }));
const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('backoffDelay', () => {
  it('waits in the upper half of a ceiling that doubles from the initial delay up to the cap', () => {
    fc.assert(
      fc.property(policyArb, fc.nat({ max: 2000 }), randomArb, ({ initialDelay, maxDelay }, attempt, random) => {
        const ceiling = Math.min(maxDelay, initialDelay * 2 ** attempt);
        const delay = backoffDelay(attempt, initialDelay, maxDelay, random);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
        expect(delay).toBeLessThanOrEqual(maxDelay);
      }),
    );
  });

  it('never shrinks from one attempt to the next for the same draw, and reaches the cap', () => {
    fc.assert(
      fc.property(policyArb, fc.nat({ max: 2000 }), randomArb, ({ initialDelay, maxDelay }, attempt, random) => {
        expect(backoffDelay(attempt + 1, initialDelay, maxDelay, random)).toBeGreaterThanOrEqual(
          backoffDelay(attempt, initialDelay, maxDelay, random),
        );
        expect(backoffDelay(attempt + 64, initialDelay, maxDelay, random)).toBe(maxDelay / 2 + (random * maxDelay) / 2);
      }),
    );
  });
});

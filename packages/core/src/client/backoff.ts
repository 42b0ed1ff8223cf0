// The retry delay: capped exponential backoff with jitter (client layer).
/**
 * How long to wait before connection attempt number `attempt` (0 for the first retry): a ceiling
 * that doubles from `initialDelay` up to `maxDelay`, and a wait drawn in its upper half.
 *
 * Half fixed, half random ("equal jitter"): clients that lost the same server spread their
 * attempts out instead of arriving in one herd, and every client's wait still grows.
 *
 * @param random - a number in [0, 1), e.g. `Math.random()`
 */
export function backoffDelay(attempt: number, initialDelay: number, maxDelay: number, random: number): number {
  const ceiling = Math.min(maxDelay, initialDelay * 2 ** attempt);
  return ceiling / 2 + (random * ceiling) / 2;
}

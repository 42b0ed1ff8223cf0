/** Summary statistics for latency samples and for combining repeated runs. */

/**
 * Nearest-rank percentile of samples already sorted ascending. Nearest-rank (rather than
 * interpolation) always returns a latency that was actually observed, which is what a p99 of
 * a round trip should be.
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const index = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[index] as number;
}

/** Sorts a copy of the samples numerically (a Float64Array sort never compares as strings). */
export function sortedCopy(samples: ArrayLike<number>): Float64Array {
  const sorted = Float64Array.from(samples);
  sorted.sort();
  return sorted;
}

/** Median of repeated runs; with an even count the mean of the middle two. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const upper = sorted[mid] as number;
  return sorted.length % 2 === 1 ? upper : ((sorted[mid - 1] as number) + upper) / 2;
}

// Request rate limits: the option and its token bucket (server layer).
import { IpcError } from '../errors.js';

/** A request rate: on average `perSecond`, with bursts of up to `burst` requests. */
export interface RateLimit {
  /** Sustained requests per second. */
  readonly perSecond: number;
  /** Requests that may arrive back to back after a quiet spell. Default: `perSecond / 10`, at least 1. */
  readonly burst?: number;
}

/**
 * A token bucket refilled lazily from the clock: taking a token costs one clock read, and an
 * empty bucket says how long until the next token, so the caller can stop reading until then.
 */
export class TokenBucket {
  /** Most tokens the bucket holds. */
  readonly burst: number;
  private readonly perMs: number;
  private tokens: number;
  private readonly now: () => number;
  private refilledAt: number;

  /**
   * @param now - the clock, in ms: the poller's
   * @throws {@link IpcError} `EINVAL` when `limit` is out of range; `what` names it in the message.
   */
  constructor(limit: RateLimit, what: string, now: () => number) {
    this.burst = checkRateLimit(limit, what);
    this.perMs = limit.perSecond / 1000;
    this.tokens = this.burst;
    this.now = now;
    this.refilledAt = now();
  }

  /** Takes one token; returns 0 while tokens remain, else the ms until one is back. */
  take(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : -this.tokens / this.perMs;
  }

  /** Whole tokens there are now. */
  available(): number {
    this.refill();
    return Math.max(0, Math.floor(this.tokens));
  }

  /** The ms until the bucket holds `count` tokens (0 if it does now). */
  msUntil(count: number): number {
    this.refill();
    return this.tokens >= count ? 0 : (count - this.tokens) / this.perMs;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (now - this.refilledAt) * this.perMs);
    this.refilledAt = now;
  }
}

/**
 * Checks a rate limit and returns its burst.
 *
 * @throws {@link IpcError} `EINVAL` when out of range; `what` names the option in the message.
 */
export function checkRateLimit(limit: RateLimit, what: string): number {
  const { perSecond } = limit;
  if (!(perSecond > 0) || !Number.isFinite(perSecond))
    throw new IpcError('EINVAL', `${what}.perSecond must be a positive number, got ${perSecond}`);
  const burst = limit.burst ?? Math.max(1, Math.floor(perSecond / 10));
  if (!Number.isInteger(burst) || burst < 1)
    throw new IpcError('EINVAL', `${what}.burst must be an integer of at least 1, got ${burst}`);
  return burst;
}

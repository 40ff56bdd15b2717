/**
 * Token buckets, one per key: `burst` requests at once, refilled at `perSecond`. Pure: the caller
 * passes the time. The number of keys is bounded (the least recently used bucket goes first; a
 * bucket idle long enough to be full again loses nothing by going).
 */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

export type Admission = { ok: true } | { ok: false; retryAfterMs: number };

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    readonly limit: RateLimit,
    private readonly maxKeys = 10_000,
  ) {}

  /** Takes a token for `key` at `nowMs` when one is left; otherwise says when the next one comes. */
  take(key: string, nowMs: number): Admission {
    const { perSecond, burst } = this.limit;
    const bucket = this.buckets.get(key) ?? { tokens: burst, atMs: nowMs };
    const elapsedMs = Math.max(0, nowMs - bucket.atMs);
    bucket.tokens = Math.min(burst, bucket.tokens + (elapsedMs * perSecond) / 1000);
    bucket.atMs = nowMs;
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / perSecond) };
  }

  get keys(): number {
    return this.buckets.size;
  }
}

import { JetmeshError } from "../errors/mod.ts";

export interface Rate {
  perSecond: number;
  burst: number;
}

/**
 * Token buckets by key (a caller and what it does), refilled lazily on use:
 * no timer per key, so an idle caller costs one map entry until it is swept.
 * A hand-written bucket rather than a library: it sits on every frame's path,
 * and the libraries at hand keep a timer or a window object per key.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number; rate: Rate }>();
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(maxKeys = 100_000, now: () => number = Date.now) {
    this.#maxKeys = maxKeys;
    this.#now = now;
  }

  /** Takes one token; throws `rate_limited` with the wait until the next one when there is none. */
  take(key: string, rate: Rate, what: string): void {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#sweep(now);
      b = { tokens: rate.burst, at: now, rate };
      this.#buckets.set(key, b);
    } else {
      b.tokens = Math.min(rate.burst, b.tokens + ((now - b.at) * rate.perSecond) / 1000);
      b.at = now;
      b.rate = rate;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return;
    }
    const retryAfterMs = Math.ceil(((1 - b.tokens) * 1000) / rate.perSecond);
    throw new JetmeshError(
      "rate_limited",
      `${what}: at most ${rate.perSecond}/s (burst ${rate.burst}); retry in ${retryAfterMs} ms`,
      { retryAfterMs },
    );
  }

  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Forgets buckets that have refilled (they would start full anyway); if all are busy, the
   * oldest half.
   */
  #sweep(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) * b.rate.perSecond) / 1000 >= b.rate.burst) {
        this.#buckets.delete(k);
      }
    }
    if (this.#buckets.size < this.#maxKeys) return;
    let drop = this.#buckets.size / 2;
    for (const k of this.#buckets.keys()) {
      if (drop-- <= 0) break;
      this.#buckets.delete(k);
    }
  }
}

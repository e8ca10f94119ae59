import { JetmeshError } from "../errors/mod.ts";

/**
 * Refusals within one second past which a client is taken to ignore `retryAfterMs`: one that
 * honours it is refused at most a few times a second.
 */
export const MAX_REFUSALS_PER_SECOND = 100;
/** How long a caller closed for ignoring its rate limit may not connect again. */
export const COOLDOWN_MS = 5000;
/** Close code for a connection that kept publishing while refused `rate_limited`. */
export const CLOSE_RATE_LIMIT_IGNORED = 4029;

/** Per connection: its rate_limited refusals in the current one-second window. */
export interface Refusals {
  since: number;
  count: number;
}

/**
 * uWebSockets.js cannot stop reading one WebSocket, so a client that floods
 * past its rate limit would still cost ingest a parse and an answer per frame,
 * at the expense of every other client. One that ignores the limit this much
 * is closed instead, and its caller (token `sub`, else address) is refused
 * upgrades for a cooldown, so reconnecting does not buy it a new flood.
 */
export class RateAbuse {
  readonly #until = new Map<string, number>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Throws `rate_limited` while `who` is cooling down. */
  check(who: string): void {
    const until = this.#until.get(who);
    if (until === undefined) return;
    const wait = until - this.#now();
    if (wait <= 0) return void this.#until.delete(who);
    throw new JetmeshError(
      "rate_limited",
      `connections closed for ignoring the rate limit; retry in ${wait} ms`,
      { retryAfterMs: wait },
    );
  }

  /** Counts a refusal; true when the connection is to be closed (and `who` starts cooling down). */
  refused(r: Refusals, who: string): boolean {
    const now = this.#now();
    if (now - r.since >= 1000) {
      r.since = now;
      r.count = 0;
    }
    if (++r.count <= MAX_REFUSALS_PER_SECOND) return false;
    // Expired entries go when the map grows: an idle attacker costs one entry until then.
    if (this.#until.size >= 10_000) {
      for (const [k, t] of this.#until) if (t <= now) this.#until.delete(k);
    }
    this.#until.set(who, now + COOLDOWN_MS);
    return true;
  }
}

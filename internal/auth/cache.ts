import type { Identity } from "./identity.ts";

/**
 * Tokens verified recently, so that many connections with one token (a
 * browser's tabs, a service's pool, reconnects) share one Identity and skip
 * the signature check. An entry lives until its token expires or `maxAgeMs`
 * passes, whichever is first, so a key withdrawn from a JWKS stops being
 * honoured within `maxAgeMs` for tokens seen before.
 */
export class VerifiedTokens {
  readonly #entries = new Map<string, { identity: Identity; until: number }>();
  readonly #maxEntries: number;
  readonly #maxAgeMs: number;

  constructor(maxEntries = 10_000, maxAgeMs = 300_000) {
    this.#maxEntries = maxEntries;
    this.#maxAgeMs = maxAgeMs;
  }

  get(token: string, now = Date.now()): Identity | undefined {
    const e = this.#entries.get(token);
    if (e === undefined) return undefined;
    if (e.until > now) return e.identity;
    this.#entries.delete(token);
    return undefined;
  }

  set(token: string, identity: Identity, now = Date.now()): void {
    if (this.#entries.size >= this.#maxEntries) {
      // Oldest first: Map keeps insertion order.
      let drop = Math.ceil(this.#maxEntries / 2);
      for (const k of this.#entries.keys()) {
        if (drop-- <= 0) break;
        this.#entries.delete(k);
      }
    }
    this.#entries.set(token, {
      identity,
      until: Math.min(identity.expiresAt, now + this.#maxAgeMs),
    });
  }

  get size(): number {
    return this.#entries.size;
  }
}

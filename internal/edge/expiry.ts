import { type Caller, isAuthenticated } from "../auth/mod.ts";

/**
 * Close code and reason for a connection whose token expired without an `auth` frame renewing
 * it.
 */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const TOKEN_EXPIRED_REASON = "token expired";

/** setTimeout cannot wait longer than 2^31-1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * Expiries are grouped in slots this long: connections of one token, or of tokens issued
 * together, share one.
 */
export const EXPIRY_SLOT_MS = 250;

export interface Expiry {
  /** Stops the watch: the token was replaced or the connection closed. */
  cancel(): void;
}

/**
 * Every connection's token expiry on one timer rather than a timer each: an
 * idle connection should cost little, and a Node timer costs more than a set
 * entry. Callbacks run at the end of their slot, so never before the expiry
 * and at most one slot after it.
 */
class ExpiryWheel {
  readonly #slots = new Map<number, Set<() => void>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;

  add(at: number, fn: () => void): Expiry {
    const slot = Math.ceil(at / EXPIRY_SLOT_MS);
    let set = this.#slots.get(slot);
    if (set === undefined) this.#slots.set(slot, set = new Set());
    set.add(fn);
    if (slot < this.#armedFor) this.#arm(slot);
    return {
      cancel: () => {
        set.delete(fn);
        if (set.size === 0 && this.#slots.get(slot) === set) this.#slots.delete(slot);
      },
    };
  }

  #arm(slot: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = slot;
    const wait = Math.min(Math.max(0, slot * EXPIRY_SLOT_MS - Date.now()), MAX_TIMER_MS);
    this.#timer = setTimeout(() => this.#fire(), wait);
    // An idle process need not stay up for a token's expiry.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = Date.now();
    const due: Array<() => void> = [];
    let next = Infinity;
    for (const [slot, set] of this.#slots) {
      if (slot * EXPIRY_SLOT_MS <= now) {
        due.push(...set);
        this.#slots.delete(slot);
      } else if (slot < next) next = slot;
    }
    if (next !== Infinity) this.#arm(next);
    for (const fn of due) fn();
  }
}

const wheel = new ExpiryWheel();
const NEVER: Expiry = { cancel() {} };

/** Calls `expired` once the caller's token expires (never for an anonymous caller). */
export function watchExpiry(caller: Caller, expired: () => void): Expiry {
  if (!isAuthenticated(caller)) return NEVER;
  if (caller.expiresAt <= Date.now()) {
    expired();
    return NEVER;
  }
  return wheel.add(caller.expiresAt, expired);
}

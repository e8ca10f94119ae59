import { type Caller, isAuthenticated } from "../auth/mod.ts";

/** Close code and reason for a connection whose token expired without an `auth` frame renewing it. */
export const CLOSE_TOKEN_EXPIRED = 4001;
export const TOKEN_EXPIRED_REASON = "token expired";

/** setTimeout cannot wait longer than 2^31-1 ms; a longer wait is taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Expiry {
  /** Stops the timer: the token was replaced or the connection closed. */
  cancel(): void;
}

/** Calls `expired` once the caller's token expires (never for an anonymous caller). */
export function watchExpiry(caller: Caller, expired: () => void): Expiry {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (!isAuthenticated(caller)) return;
    const wait = caller.expiresAt - Date.now();
    if (wait <= 0) return expired();
    timer = setTimeout(wait > MAX_TIMER_MS ? arm : expired, Math.min(wait, MAX_TIMER_MS));
    // An idle process need not stay up for a token's expiry.
    (timer as { unref?: () => void }).unref?.();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}

import type { BackoffOptions } from "./types.ts";

/**
 * Delay before attempt `attempt` (0-based): doubles from `initialMs` up to
 * `maxMs`. Half of it is random so that clients dropped by the same server
 * crash do not all come back in the same millisecond.
 */
export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const initial = o.initialMs ?? 250;
  const max = o.maxMs ?? 10_000;
  const ceiling = Math.min(max, initial * 2 ** Math.min(attempt, 20));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

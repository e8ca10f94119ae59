export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Client-side reconnect/resend delay: exponential with jitter, capped low so clients come back
 * soon after a restart.
 */
export function backoff(attempt: number, baseMs = 50, capMs = 1000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 10));
  return Math.floor(ceiling / 2 + Math.random() * (ceiling / 2));
}

/**
 * Whether `p` settled within `ms`; the timer is cleared either way, so it never holds the
 * process open.
 */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls until `check` holds or the time is up; returns whether it held. A
 * throwing check counts as "not yet" (the bus may be restarting), and its last
 * error is kept for the caller's message.
 */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 250,
): Promise<{ ok: boolean; lastError?: unknown }> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return { ok: true };
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) return { ok: false, lastError };
    await sleep(everyMs);
  }
}

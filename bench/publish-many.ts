/**
 * `n` publishes through a pipelined publisher with at most `inFlight` awaiting their PubAck:
 * the bench scripts that fill a stream (seen-keys.ts, dedupe-window.ts). Resolves with the
 * rate.
 */
import type { PipelinedPublisher } from "../internal/bus/mod.ts";

export async function publishMany(
  pub: PipelinedPublisher,
  n: number,
  inFlight: number,
  message: (i: number) => Parameters<PipelinedPublisher["publish"]>,
): Promise<number> {
  const started = performance.now();
  const pending = new Set<Promise<unknown>>();
  for (let i = 0; i < n; i++) {
    const p = pub.publish(...message(i)).finally(() => pending.delete(p));
    pending.add(p);
    if (pending.size >= inFlight) await Promise.race(pending);
  }
  await Promise.all(pending);
  return n / ((performance.now() - started) / 1000);
}

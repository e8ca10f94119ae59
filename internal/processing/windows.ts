/**
 * Which windows an event time falls in. Windows are half-open [start, end) in
 * epoch milliseconds, aligned to the epoch (a 10 s tumbling window starts at a
 * multiple of 10 000), so every replica and every replay agrees on them.
 * Sessions are not assigned here: they grow and merge in the engine.
 */

/** Tumbling: size = hop. Hopping: every start s = k * hop with s <= t < s + size. */
export function windowStarts(t: number, size: number, hop: number): number[] {
  const last = Math.floor(t / hop) * hop;
  const starts: number[] = [];
  for (let s = last; s > t - size; s -= hop) starts.push(s);
  return starts.reverse();
}

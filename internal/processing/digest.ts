/**
 * Percentiles through a t-digest (package `tdigest`), deterministic. The package
 * recompresses by re-inserting centroids in Math.random order; that is switched
 * off (K = 0) and replaced by a shuffle seeded from the digest's own count.
 * The engine feeds a window's values in sorted order when the window closes, so
 * the result depends only on the set of values, never on arrival order: a replay
 * in another order (redeliveries after a crash) publishes the same bytes.
 */
import { TDigest } from "tdigest";

const DELTA = 0.01;
const CX = 1.1;
/** Centroid count that triggers a compression (the package's default, 25 / delta). */
const COMPRESS_AT = 2500;

/** The package method compress() uses; @types/tdigest leaves it out. */
interface Internals {
  n: number;
  _cumulate(exact: boolean): void;
}

function compress(td: TDigest): void {
  const points = td.toArray();
  // xorshift32 seeded by the count: the same digest always shuffles the same way.
  let s = ((td as unknown as Internals).n | 0) || 1;
  td.reset();
  while (points.length > 0) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    td.push_centroid(points.splice((s >>> 0) % points.length, 1)[0]);
  }
  (td as unknown as Internals)._cumulate(true);
}

/** p in 0..1 of values (any order); undefined when there are none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const td = new TDigest(DELTA, 0, CX);
  for (const x of [...values].sort((a, b) => a - b)) {
    td.push(x);
    if (td.size() > COMPRESS_AT) compress(td);
  }
  return td.percentile(p);
}

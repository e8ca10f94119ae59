/**
 * The load generators' input, deterministic from a seed (issue 15 examples): per
 * key (a device, an account), events at a steady rate with event times near
 * their send time, some of them
 * - out of order: sent up to `maxDisorderMs` after their event time (kept under
 *   the lateness, with a margin for the network, so they still count),
 * - duplicated: the same id sent again a little later (must count once),
 * - late: an event time far behind everything sent so far (beyond lateness plus
 *   a window), so every watermark has passed it whatever the partition.
 *
 * Times are offsets from `start` (epoch ms): the same seed and start give the
 * same events, so the expected results can be computed offline.
 */
import { rng } from "../../internal/processing/reference.ts";

export interface ScheduleOptions {
  seed: number;
  /** Number of keys (sensors, accounts). */
  keys: number;
  /** Events per second over all keys (duplicates and late ones included). */
  rate: number;
  durationSec: number;
  /** Epoch ms of the first event time. */
  start: number;
  lateness: number;
  /** How far behind a late event goes past lateness (at least a window). */
  lateBehind: number;
  /** Fractions of the events sent out of order, duplicated, late. */
  disorder: number;
  duplicates: number;
  lates: number;
}

export interface Planned {
  /** Client id (the part of the event id after `<publisher>:`). */
  id: string;
  key: string;
  /** Event time, epoch ms. */
  t: number;
  /** When to send it, epoch ms (the generator waits until then). */
  at: number;
  /** Uniform 0..1 draws for the example to shape its data from. */
  u: [number, number, number];
  kind: "normal" | "disorder" | "duplicate" | "late";
}

/** Network and batching slack kept between a disordered event and the lateness. */
const MARGIN_MS = 1500;

export const keyName = (prefix: string, i: number) => `${prefix}-${String(i).padStart(4, "0")}`;

export function schedule(o: ScheduleOptions, prefix: string): Planned[] {
  const r = rng(o.seed);
  const total = Math.max(1, Math.floor(o.rate * o.durationSec));
  const gap = 1000 / o.rate;
  const maxDisorder = Math.max(0, o.lateness - MARGIN_MS);
  const out: Planned[] = [];
  let n = 0;
  for (let i = 0; i < total; i++) {
    const t = o.start + Math.floor(i * gap);
    const key = keyName(prefix, Math.floor(r() * o.keys));
    const u: [number, number, number] = [r(), r(), r()];
    const roll = r();
    if (roll < o.lates && t - o.start > o.lateness + o.lateBehind) {
      // Sent now, about a window and the lateness behind: late for every partition.
      const back = o.lateness + o.lateBehind + MARGIN_MS + Math.floor(r() * o.lateBehind);
      out.push({ id: `r${n++}`, key, t: Math.max(o.start, t - back), at: t, u, kind: "late" });
    } else if (roll < o.lates + o.disorder) {
      out.push({
        id: `r${n++}`,
        key,
        t,
        at: t + Math.floor(r() * maxDisorder),
        u,
        kind: "disorder",
      });
    } else {
      out.push({ id: `r${n++}`, key, t, at: t, u, kind: "normal" });
    }
    if (r() < o.duplicates) {
      const first = out[out.length - 1];
      // Within a second: with the margin, a copy of an on-time event is never late either.
      const again = first.at + Math.floor(r() * 1000);
      out.push({ ...first, at: again, kind: "duplicate" });
    }
  }
  // Stable: equal send times keep generation order.
  return out.sort((a, b) => a.at - b.at);
}

/**
 * Expected window results from the offline reference (internal/processing/
 * reference.ts), split into the windows every partition has closed by the end of
 * a run and the last ones, which may still be open: a partition's watermark only
 * moves with its own events, so the final seconds close at different times.
 */
import {
  referenceWindows,
  type RefEvent,
  type RefWindow,
  sortedSum,
} from "../../internal/processing/reference.ts";
import type { Planned } from "./schedule.ts";

export interface ExpectedWindow {
  key: string;
  windowStart: number;
  windowEnd: number;
  count: number;
  sum: number;
  avg: number;
  min: number;
  max: number;
}

/** Margin past the lateness before a window is surely closed in every partition. */
const SETTLE_MS = 20_000;

export function expectWindows(
  w: RefWindow,
  planned: Planned[],
  publisher: string,
  value: (p: Planned) => number,
): { closed: ExpectedWindow[]; open: ExpectedWindow[]; late: string[] } {
  const arrivals: RefEvent[] = planned.map((p) => ({
    id: `${publisher}:${p.id}`,
    key: p.key,
    t: p.t,
    value: value(p),
  }));
  const ref = referenceWindows(w, arrivals);
  const lastT = Math.max(...planned.map((p) => p.t));
  const closed: ExpectedWindow[] = [];
  const open: ExpectedWindow[] = [];
  for (const r of ref.windows) {
    const sum = sortedSum(r.values);
    const x = {
      key: r.key,
      windowStart: r.start,
      windowEnd: r.end,
      count: r.values.length,
      sum,
      avg: sum / r.values.length,
      min: Math.min(...r.values),
      max: Math.max(...r.values),
    };
    (r.end <= lastT - w.lateness - SETTLE_MS ? closed : open).push(x);
  }
  return { closed, open, late: [...ref.late].sort() };
}

/** Hysteresis over each key's closed windows in time order: where alerts fire and clear. */
export function expectAlerts(
  windows: ExpectedWindow[],
  value: (w: ExpectedWindow) => number,
  above: number,
  clearBelow: number,
): Array<{ key: string; windowStart: number; state: "firing" | "cleared"; value: number }> {
  const byKey = new Map<string, ExpectedWindow[]>();
  for (const w of windows) {
    if (!byKey.has(w.key)) byKey.set(w.key, []);
    byKey.get(w.key)!.push(w);
  }
  const out: Array<
    { key: string; windowStart: number; state: "firing" | "cleared"; value: number }
  > = [];
  for (const [key, ws] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    let firing = false;
    for (const w of ws.sort((a, b) => a.windowStart - b.windowStart)) {
      const v = value(w);
      if (!firing && v > above) {
        out.push({ key, windowStart: w.windowStart, state: "firing", value: v });
      } else if (firing && v <= clearBelow) {
        out.push({ key, windowStart: w.windowStart, state: "cleared", value: v });
      } else continue;
      firing = !firing;
    }
  }
  return out;
}

/**
 * For tests only: an offline reference of window semantics, written without the
 * engine's data structures. It walks the arrivals once to know each event's
 * watermark at arrival (which decides lateness), then buckets the counted,
 * de-duplicated events by window and computes the aggregates directly.
 */

export interface RefEvent {
  id: string;
  key: string;
  t: number;
  /** Aggregate input (one numeric field is enough for the tests). */
  value: number;
}

export interface RefWindow {
  type: "tumbling" | "hopping" | "session";
  /** Size, or the gap for sessions. */
  size: number;
  hop: number;
  lateness: number;
  policy: "route" | "update";
  retain: number;
}

export interface RefResult {
  key: string;
  start: number;
  end: number;
  values: number[];
}

export interface Reference {
  /** Final content of every window, ordered by (end, key, start). */
  windows: RefResult[];
  /** Ids of arrivals that missed at least one of their windows. */
  late: Set<string>;
}

/** Starts s with s <= t < s + size, s a multiple of hop, by direct enumeration. */
function starts(t: number, size: number, hop: number): number[] {
  const out: number[] = [];
  const first = Math.ceil((t - size + 1) / hop) * hop;
  for (let s = first; s <= t; s += hop) out.push(s);
  return out;
}

function order(a: RefResult, b: RefResult): number {
  return a.end - b.end || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.start - b.start;
}

export function referenceWindows(w: RefWindow, arrivals: RefEvent[]): Reference {
  const late = new Set<string>();
  let maxT = -Infinity;
  const counted: RefEvent[] = [];
  const windows = new Map<string, { key: string; start: number; ids: Map<string, number> }>();
  for (const e of arrivals) {
    maxT = Math.max(maxT, e.t);
    const wm = maxT - w.lateness;
    if (w.type === "session") {
      if (e.t + w.size <= wm) late.add(e.id);
      else counted.push(e);
      continue;
    }
    for (const s of starts(e.t, w.size, w.hop)) {
      const end = s + w.size;
      const accepting = end > wm || (w.policy === "update" && end + w.retain > wm);
      if (!accepting) {
        late.add(e.id);
        continue;
      }
      const k = `${e.key}\u0000${s}`;
      if (!windows.has(k)) windows.set(k, { key: e.key, start: s, ids: new Map() });
      const win = windows.get(k)!;
      if (!win.ids.has(e.id)) win.ids.set(e.id, e.value);
    }
  }
  if (w.type !== "session") {
    const out = [...windows.values()].map((x) => ({
      key: x.key,
      start: x.start,
      end: x.start + w.size,
      values: [...x.ids.values()],
    }));
    return { windows: out.sort(order), late };
  }
  // Sessions: per key, the distinct counted events sorted by time, split at gaps >= gap.
  const byKey = new Map<string, Map<string, RefEvent>>();
  for (const e of counted) {
    if (!byKey.has(e.key)) byKey.set(e.key, new Map());
    if (!byKey.get(e.key)!.has(e.id)) byKey.get(e.key)!.set(e.id, e);
  }
  const out: RefResult[] = [];
  for (const [key, evs] of byKey) {
    const sorted = [...evs.values()].sort((a, b) => a.t - b.t);
    let cur: RefResult | undefined;
    for (const e of sorted) {
      if (cur && e.t < cur.end) {
        cur.end = Math.max(cur.end, e.t + w.size);
        cur.values.push(e.value);
      } else {
        cur = { key, start: e.t, end: e.t + w.size, values: [e.value] };
        out.push(cur);
      }
    }
  }
  return { windows: out.sort(order), late };
}

/** Order-independent sum (ascending), as a window result must be. */
export function sortedSum(values: number[]): number {
  return [...values].sort((a, b) => a - b).reduce((s, x) => s + x, 0);
}

/** Nearest-rank percentile. */
export function exactPercentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

/** Hysteresis over a sequence of values: the states it passes through. */
export function referenceAlerts(values: number[], above: number, clearBelow: number): string[] {
  const out: string[] = [];
  let firing = false;
  for (const v of values) {
    if (!firing && v > above) out.push("firing");
    else if (firing && v <= clearBelow) out.push("cleared");
    else continue;
    firing = !firing;
  }
  return out;
}

/** A small deterministic PRNG (mulberry32) so a failing seed replays. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GenOptions {
  seed: number;
  keys: number;
  events: number;
  /** Mean gap between event times, ms. */
  step: number;
  lateness: number;
  /** Window size or session gap: how far back a deliberately late event goes. */
  span: number;
  duplicates: number;
  lates: number;
  value: (r: () => number) => number;
}

/**
 * Events with increasing times, delivered out of order within the lateness
 * (arrival = time + jitter below the lateness), plus copies of some (same id,
 * delivered a little later) and some far behind the watermark.
 */
export function generate(o: GenOptions): RefEvent[] {
  const r = rng(o.seed);
  const base = 1_700_000_000_000;
  let t = base;
  const events: Array<RefEvent & { at: number }> = [];
  for (let i = 0; i < o.events; i++) {
    t += Math.floor(r() * 2 * o.step);
    const e = { id: `e${i}`, key: `k${Math.floor(r() * o.keys)}`, t, value: o.value(r) };
    events.push({ ...e, at: t + Math.floor(r() * o.lateness) });
  }
  for (let i = 0; i < o.duplicates; i++) {
    const e = events[Math.floor(r() * o.events)];
    events.push({ ...e, at: e.at + Math.floor(r() * 3 * o.step) });
  }
  // Stable sort: equal arrival times keep generation order.
  const arrivals: RefEvent[] = events.sort((a, b) => a.at - b.at).map(({ at: _at, ...e }) => e);
  // Late ones go well behind the highest time delivered before them.
  for (let i = 0; i < o.lates; i++) {
    const pos = 1 + Math.floor(r() * (arrivals.length - 1));
    const seen = Math.max(...arrivals.slice(0, pos).map((e) => e.t));
    const behind = o.lateness + o.span + 1 + Math.floor(r() * o.span);
    const e = { id: `late${i}`, key: `k${Math.floor(r() * o.keys)}`, value: o.value(r) };
    arrivals.splice(pos, 0, { ...e, t: seen - behind });
  }
  return arrivals;
}

/**
 * The state of one window rule: its watermark and, per key, its open windows
 * (and under policy `update`, closed windows still taking corrections), each with
 * the ids and aggregate inputs of its distinct events. Pure bookkeeping: the
 * engine evaluates expressions and renders outputs.
 *
 * The watermark is one per rule, across keys: the highest event time seen minus
 * the lateness. Per key it would never close the windows of a key that went
 * quiet, so state would grow with every device that ever spoke; one per rule
 * closes them, at the price that a device whose clock lags the others by more
 * than the lateness has its events treated as late. It assumes the engine sees
 * its input in stream order (one engine per ordered consumer or partition).
 */
import type { CompiledWindow } from "./compile.ts";
import type { ProcessingLimits } from "./types.ts";
import { windowStarts } from "./windows.ts";

export type Vals = Array<number | null>;

interface Win {
  start: number;
  end: number;
  closed: boolean;
  /** Results published so far; the next one has this revision. */
  emitted: number;
  events: Map<string, Vals>;
}

export interface WindowResult {
  key: string;
  start: number;
  end: number;
  revision: number;
  rows: Vals[];
}

export type LateReason =
  | "late"
  | "too-many-keys"
  | "too-many-windows"
  | "window-full"
  | "state-full";

export interface Placement {
  /** Set when the event was not counted in some of its windows (their starts). */
  late?: { reason: LateReason; windows: number[] };
  /** Corrected results of closed windows (policy update). */
  updated: WindowResult[];
}

/** [start, end, closed 0/1, emitted, [[id, vals]...]] */
export type WinSnapshot = [number, number, 0 | 1, number, Array<[string, Vals]>];
export interface WindowRuleSnapshot {
  maxTime: number | null;
  keys: Array<[string, WinSnapshot[]]>;
}

export class WindowRuleState {
  readonly rule: CompiledWindow;
  readonly #limits: ProcessingLimits;
  #maxTime = -Infinity;
  /** Per key, windows sorted by start. */
  readonly #keys = new Map<string, Win[]>();
  /** Event entries over all windows (an event in 6 hopping windows counts 6). */
  #stored = 0;
  /**
   * No window closes or is forgotten before the watermark reaches this (it may be lower than
   * the first that does): `closeDue` looks at every key only from then on.
   */
  #due = -Infinity;

  constructor(rule: CompiledWindow, limits: ProcessingLimits) {
    this.rule = rule;
    this.#limits = limits;
  }

  get watermark(): number {
    return this.#maxTime - this.rule.lateness;
  }

  /** Event time seen: the watermark follows the highest. */
  observe(t: number): void {
    if (t > this.#maxTime) this.#maxTime = t;
  }

  /** Raises the watermark to at least `wm` (never lowers it). */
  raise(wm: number): void {
    this.observe(Math.min(wm + this.rule.lateness, Number.MAX_SAFE_INTEGER));
  }

  /** Counts event `id` at time `t` in its windows of `key`; a duplicate id counts nowhere. */
  place(key: string, t: number, id: string, vals: Vals): Placement {
    return this.rule.type === "session"
      ? this.#placeSession(key, t, id, vals)
      : this.#placeFixed(key, t, id, vals);
  }

  #accepts(end: number): boolean {
    const wm = this.watermark;
    return end > wm || (this.rule.late.policy === "update" && end + this.rule.late.retain > wm);
  }

  /** The key's windows, created if the key cap allows. */
  #windowsOf(key: string): Win[] | undefined {
    let wins = this.#keys.get(key);
    if (!wins && this.#keys.size < this.#limits.maxKeys) {
      wins = [];
      this.#keys.set(key, wins);
    }
    return wins;
  }

  #placeFixed(key: string, t: number, id: string, vals: Vals): Placement {
    const { size, hop } = this.rule;
    const missed: number[] = [];
    const updated: WindowResult[] = [];
    let reason: LateReason = "late";
    const wins = this.#windowsOf(key);
    for (const start of windowStarts(t, size, hop)) {
      const end = start + size;
      if (!this.#accepts(end)) {
        missed.push(start);
        continue;
      }
      if (!wins) {
        reason = "too-many-keys";
        missed.push(start);
        continue;
      }
      let w = wins.find((x) => x.start === start);
      if (!w) {
        if (wins.length >= this.#limits.maxWindowsPerKey) {
          reason = "too-many-windows";
          missed.push(start);
          continue;
        }
        w = { start, end, closed: end <= this.watermark, emitted: 0, events: new Map() };
        this.#dueBy(w);
        wins.push(w);
        wins.sort((a, b) => a.start - b.start);
      }
      if (w.events.has(id)) continue;
      if (w.events.size >= this.#limits.maxEventsPerWindow) {
        reason = "window-full";
        missed.push(start);
        continue;
      }
      if (this.#stored >= this.#limits.maxStoredEvents) {
        reason = "state-full";
        missed.push(start);
        continue;
      }
      w.events.set(id, vals);
      this.#stored++;
      if (w.closed) updated.push(this.#emit(key, w));
    }
    if (wins && wins.length === 0) this.#keys.delete(key);
    return { late: missed.length > 0 ? { reason, windows: missed } : undefined, updated };
  }

  #placeSession(key: string, t: number, id: string, vals: Vals): Placement {
    const gap = this.rule.size;
    if (t + gap <= this.watermark) return { late: { reason: "late", windows: [] }, updated: [] };
    const existing = this.#keys.get(key);
    if (existing?.some((w) => w.events.has(id))) return { updated: [] };
    const wins = this.#windowsOf(key);
    if (!wins) return { late: { reason: "too-many-keys", windows: [] }, updated: [] };
    const touching = wins.filter((w) => w.start < t + gap && t < w.end);
    const total = touching.reduce((n, w) => n + w.events.size, 0);
    const reason: LateReason | undefined = total >= this.#limits.maxEventsPerWindow
      ? "window-full"
      : this.#stored >= this.#limits.maxStoredEvents
      ? "state-full"
      : touching.length === 0 && wins.length >= this.#limits.maxWindowsPerKey
      ? "too-many-windows"
      : undefined;
    if (reason) {
      if (wins.length === 0) this.#keys.delete(key);
      return { late: { reason, windows: [] }, updated: [] };
    }
    // This event bridges every session it touches into one.
    const merged: Win = {
      start: Math.min(t, ...touching.map((w) => w.start)),
      end: Math.max(t + gap, ...touching.map((w) => w.end)),
      closed: false,
      emitted: 0,
      events: new Map(touching.flatMap((w) => [...w.events])),
    };
    merged.events.set(id, vals);
    this.#stored++;
    this.#dueBy(merged);
    const rest = wins.filter((w) => !touching.includes(w));
    rest.push(merged);
    rest.sort((a, b) => a.start - b.start);
    this.#keys.set(key, rest);
    return { updated: [] };
  }

  /** When `w` next needs `closeDue`: its end while open, then when it is forgotten. */
  #dueOf(w: Win): number {
    return w.closed
      ? w.end + (this.rule.late.policy === "update" ? this.rule.late.retain : 0)
      : w.end;
  }

  #dueBy(w: Win): void {
    this.#due = Math.min(this.#due, this.#dueOf(w));
  }

  #emit(key: string, w: Win): WindowResult {
    const r = {
      key,
      start: w.start,
      end: w.end,
      revision: w.emitted,
      rows: [...w.events.values()],
    };
    w.emitted++;
    return r;
  }

  /**
   * Closes every window the watermark has passed and returns their results in a
   * fixed order (end, key, start), so the order does not depend on arrival.
   * Forgets closed windows (under update, once `retain` has passed too).
   */
  closeDue(): WindowResult[] {
    const wm = this.watermark;
    if (wm < this.#due) return [];
    const out: WindowResult[] = [];
    const keep = this.rule.late.policy === "update" ? this.rule.late.retain : 0;
    this.#due = Infinity;
    for (const [key, wins] of [...this.#keys]) {
      for (const w of wins) {
        if (!w.closed && w.end <= wm) {
          w.closed = true;
          out.push(this.#emit(key, w));
        }
      }
      const left = wins.filter((w) => {
        const forget = w.closed && w.end + keep <= wm;
        if (forget) this.#stored -= w.events.size;
        else this.#dueBy(w);
        return !forget;
      });
      if (left.length === 0) this.#keys.delete(key);
      else if (left.length !== wins.length) this.#keys.set(key, left);
    }
    return out.sort((a, b) =>
      a.end - b.end || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.start - b.start
    );
  }

  /** Open windows and keys, for metrics and the cap tests. */
  get size(): { keys: number; windows: number; events: number } {
    let windows = 0;
    for (const w of this.#keys.values()) windows += w.length;
    return { keys: this.#keys.size, windows, events: this.#stored };
  }

  snapshot(): WindowRuleSnapshot {
    return {
      maxTime: Number.isFinite(this.#maxTime) ? this.#maxTime : null,
      keys: [...this.#keys].map(([key, wins]) => [
        key,
        wins.map((w): WinSnapshot => [w.start, w.end, w.closed ? 1 : 0, w.emitted, [...w.events]]),
      ]),
    };
  }

  static restore(
    rule: CompiledWindow,
    limits: ProcessingLimits,
    s: WindowRuleSnapshot,
  ): WindowRuleState {
    const state = new WindowRuleState(rule, limits);
    state.#maxTime = s.maxTime ?? -Infinity;
    for (const [key, wins] of s.keys) {
      for (const w of wins) state.#stored += w[4].length;
      state.#keys.set(
        key,
        wins.map(([start, end, closed, emitted, events]) => ({
          start,
          end,
          closed: closed === 1,
          emitted,
          events: new Map(events),
        })),
      );
    }
    return state;
  }
}

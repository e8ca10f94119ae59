/**
 * The processing engine of one namespace: runs an event through the namespace's
 * rules in declaration order and returns what to publish. Deterministic: the same
 * inputs in the same order give byte-identical outputs in the same order, and
 * window results do not even depend on the order within the lateness. Not
 * re-entrant: await each call before the next (process, advance, snapshot).
 *
 * Output ids (`<namespace>/<rule>:...`, see ids below) depend only on the rule,
 * the input event id or the window's key and start, so publishing them with
 * Nats-Msg-Id makes a replay after a crash publish nothing twice.
 */
import { computeAggregates } from "./aggregate.ts";
import type { CompiledAlert, CompiledRules, CompiledWindow } from "./compile.ts";
import type { Scope } from "./expr.ts";
import { DEFAULT_PROCESSING_LIMITS, type ProcessingLimits } from "./types.ts";
import { type Vals, type WindowResult, WindowRuleState } from "./window-state.ts";

export interface Input {
  /** The event's id (route's deterministic id): dedupe and output ids derive from it. */
  id: string;
  channel: string;
  data: unknown;
  /**
   * The envelope's server receive time (ms). When given, an event time further
   * ahead of it than the rule's maxAhead is refused (reason `future`).
   */
  ts?: number;
}

export type OutputKind = "event" | "diverted" | "derived" | "window" | "late" | "alert";

export interface Output {
  kind: OutputKind;
  /** The rule that produced it; absent for the event itself. */
  rule?: string;
  id: string;
  channel: string;
  data: unknown;
}

export interface ProcessResult {
  outputs: Output[];
  /**
   * Rule failures at run time (an expression error, a rendered channel that is
   * not valid, an alert state cap). What they concern is not published; route
   * should park the input on its DLQ with these messages.
   */
  errors: string[];
}

/** Deterministic output ids; keys are URI-encoded so `:` in a key cannot collide. */
export const ids = {
  event: (ns: string, rule: string, eventId: string) => `${ns}/${rule}:${eventId}`,
  late: (ns: string, rule: string, eventId: string) => `${ns}/${rule}:late:${eventId}`,
  window: (ns: string, rule: string, key: string, start: number, revision: number) =>
    `${ns}/${rule}:${encodeURIComponent(key)}:${start}${revision > 0 ? `:r${revision}` : ""}`,
  windowAlert: (ns: string, rule: string, windowId: string) => `${ns}/${rule}@${windowId}`,
};

const MAX_KEY_LENGTH = 256;
/** Date's range: event times beyond it are refused as invalid. */
const MAX_TIME = 8.64e15;

function eventTime(v: unknown): number | undefined {
  const t = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : NaN;
  return Number.isFinite(t) && Math.abs(t) <= MAX_TIME ? Math.floor(t) : undefined;
}

function keyOf(v: unknown): string | undefined {
  const k = typeof v === "string"
    ? v
    : typeof v === "number" && Number.isFinite(v)
    ? String(v)
    : "";
  return k !== "" && k.length <= MAX_KEY_LENGTH ? k : undefined;
}

export class Engine {
  readonly rules: CompiledRules;
  readonly limits: ProcessingLimits;
  /** Window rule name -> its state. */
  readonly windows = new Map<string, WindowRuleState>();
  /** Alert rule name -> keys currently firing (insertion order kept by snapshots). */
  readonly firing = new Map<string, Set<string>>();
  #busy = false;

  constructor(rules: CompiledRules, limits: ProcessingLimits = DEFAULT_PROCESSING_LIMITS) {
    this.rules = rules;
    this.limits = limits;
    for (const r of rules.rules) {
      if (r.kind === "window") this.windows.set(r.name, new WindowRuleState(r, limits));
      if (r.kind === "alert") this.firing.set(r.name, new Set());
    }
  }

  /** True while a call is in progress: a snapshot then would catch it half done. */
  get busy(): boolean {
    return this.#busy;
  }

  get #ns(): string {
    return this.rules.namespace;
  }

  async #exclusive<T>(f: () => Promise<T>): Promise<T> {
    if (this.#busy) throw new Error("processing engine: call again only after the last settled");
    this.#busy = true;
    try {
      return await f();
    } finally {
      this.#busy = false;
    }
  }

  process(input: Input): Promise<ProcessResult> {
    return this.#exclusive(() => this.#process(input));
  }

  /**
   * Raises every window rule's watermark to at least `watermark` (event time, ms)
   * and publishes what closes. Replays must repeat the same calls, so route should
   * only call it with values it records in the input (e.g. a heartbeat event).
   */
  advance(watermark: number): Promise<ProcessResult> {
    return this.#exclusive(async () => {
      const res: ProcessResult = { outputs: [], errors: [] };
      for (const state of this.windows.values()) {
        state.raise(watermark);
        await this.#close(state, res);
      }
      return res;
    });
  }

  /** Closes every window (end of input); later events are all late. */
  flush(): Promise<ProcessResult> {
    return this.advance(Number.MAX_SAFE_INTEGER);
  }

  async #process(input: Input): Promise<ProcessResult> {
    const res: ProcessResult = { outputs: [], errors: [] };
    const scope: Scope = { id: input.id, channel: input.channel };
    const fail = (rule: string, err: unknown) =>
      res.errors.push(`namespace ${this.#ns} rule ${rule}: ${(err as Error).message}`);
    let data = input.data;
    for (const rule of this.rules.rules) {
      try {
        if (rule.kind === "filter") {
          if ((await rule.test.evaluate(data, scope)) === true) continue;
          if (rule.divert) {
            res.outputs.push({
              kind: "diverted",
              rule: rule.name,
              id: ids.event(this.#ns, rule.name, input.id),
              channel: await rule.divert.render(data, scope),
              data,
            });
          }
          return res;
        } else if (rule.kind === "transform") {
          data = await rule.expr.evaluate(data, scope);
        } else if (rule.kind === "derive") {
          if (rule.when && (await rule.when.evaluate(data, scope)) !== true) continue;
          res.outputs.push({
            kind: "derived",
            rule: rule.name,
            id: ids.event(this.#ns, rule.name, input.id),
            channel: await rule.channel.render(data, scope),
            data: rule.data ? await rule.data.evaluate(data, scope) : data,
          });
        } else if (rule.kind === "window") {
          await this.#window(this.windows.get(rule.name)!, input, data, scope, res);
        } else if (rule.on === undefined) {
          const key = keyOf(await rule.key!.evaluate(data, scope));
          if (key === undefined) throw new Error("alert key is not a short string or number");
          const id = ids.event(this.#ns, rule.name, input.id);
          await this.#alert(rule, key, data, scope, id, res);
        }
      } catch (err) {
        fail(rule.name, err);
        // The event cannot be filtered or reshaped as declared: it goes no further.
        if (rule.kind === "filter" || rule.kind === "transform") return res;
      }
    }
    res.outputs.push({ kind: "event", id: input.id, channel: input.channel, data });
    return res;
  }

  async #window(
    state: WindowRuleState,
    input: Input,
    data: unknown,
    scope: Scope,
    res: ProcessResult,
  ): Promise<void> {
    const rule = state.rule;
    const late = async (reason: string, t: number | undefined, windows: number[]) => {
      res.outputs.push({
        kind: "late",
        rule: rule.name,
        id: ids.late(this.#ns, rule.name, input.id),
        channel: await rule.late.channel.render(data, scope),
        data: {
          reason,
          rule: rule.name,
          eventTime: t ?? null,
          watermark: Number.isFinite(state.watermark) ? state.watermark : null,
          windows,
          event: { id: input.id, channel: input.channel, data },
        },
      });
    };
    const t = eventTime(await rule.time.evaluate(data, scope));
    if (t === undefined) return late("invalid-time", undefined, []);
    if (input.ts !== undefined && t > input.ts + rule.maxAhead) return late("future", t, []);
    const key = keyOf(await rule.key.evaluate(data, scope));
    if (key === undefined) return late("invalid-key", t, []);
    const vals: Vals = [];
    for (const e of rule.aggregates.inputs) {
      const v = await e.evaluate(data, scope);
      vals.push(typeof v === "number" && Number.isFinite(v) ? v : null);
    }
    state.observe(t);
    const placed = state.place(key, t, input.id, vals);
    if (placed.late) await late(placed.late.reason, t, placed.late.windows);
    for (const r of placed.updated) await this.#result(rule, r, res);
    await this.#close(state, res);
  }

  async #close(state: WindowRuleState, res: ProcessResult): Promise<void> {
    for (const r of state.closeDue()) await this.#result(state.rule, r, res);
  }

  async #result(rule: CompiledWindow, r: WindowResult, res: ProcessResult): Promise<void> {
    const id = ids.window(this.#ns, rule.name, r.key, r.start, r.revision);
    const data: Record<string, unknown> = {
      [rule.keyAs]: r.key,
      windowStart: r.start,
      windowEnd: r.end,
      ...computeAggregates(rule.aggregates, r.rows),
    };
    if (r.revision > 0) data.revision = r.revision;
    // A window result has no input channel: its templates see the result only.
    const scope: Scope = { id, channel: "" };
    try {
      const channel = await rule.channel.render(data, scope);
      res.outputs.push({ kind: "window", rule: rule.name, id, channel, data });
    } catch (err) {
      res.errors.push(`namespace ${this.#ns} rule ${rule.name}: ${(err as Error).message}`);
      return;
    }
    for (const a of this.rules.rules) {
      if (a.kind !== "alert" || a.on !== rule.name) continue;
      try {
        const key = a.key ? keyOf(await a.key.evaluate(data, scope)) : r.key;
        if (key === undefined) throw new Error("alert key is not a short string or number");
        await this.#alert(a, key, data, scope, ids.windowAlert(this.#ns, a.name, id), res);
      } catch (err) {
        res.errors.push(`namespace ${this.#ns} rule ${a.name}: ${(err as Error).message}`);
      }
    }
  }

  /** Hysteresis: fires once above `above`, clears once at or below `clearBelow`. */
  async #alert(
    rule: CompiledAlert,
    key: string,
    data: unknown,
    scope: Scope,
    id: string,
    res: ProcessResult,
  ): Promise<void> {
    const v = await rule.value.evaluate(data, scope);
    if (typeof v !== "number" || !Number.isFinite(v)) return;
    const firing = this.firing.get(rule.name)!;
    const was = firing.has(key);
    let state: "firing" | "cleared";
    if (!was && v > rule.above) state = "firing";
    else if (was && v <= rule.clearBelow) state = "cleared";
    else return;
    const alert = {
      alert: rule.name,
      key,
      state,
      value: v,
      above: rule.above,
      clearBelow: rule.clearBelow,
      source: data,
    };
    const channel = await rule.channel.render(alert, scope);
    if (state === "cleared") firing.delete(key);
    else if (firing.size < this.limits.maxKeys) firing.add(key);
    else {
      // Untracked, it would fire again next time: said, and still published.
      res.errors.push(`namespace ${this.#ns} rule ${rule.name}: more than maxKeys alerts firing`);
    }
    res.outputs.push({ kind: "alert", rule: rule.name, id, channel, data: alert });
  }
}

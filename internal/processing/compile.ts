/**
 * Validates and compiles a namespace's `rules` list in one go: either every rule
 * compiles, or the caller gets every problem (each naming the namespace, the
 * rule's index and name, and the JSONata error) and keeps its previous rule set.
 */
import { parseDuration } from "../config/env.ts";
import { type Aggregates, compileAggregates } from "./aggregate.ts";
import { Expr, Template } from "./expr.ts";
import type { LatePolicy, WindowType } from "./types.ts";

interface Base {
  name: string;
  /** The rule's declaration as JSON: state restored from a snapshot must match it. */
  fingerprint: string;
}
export interface CompiledFilter extends Base {
  kind: "filter";
  test: Expr;
  divert?: Template;
}
export interface CompiledTransform extends Base {
  kind: "transform";
  expr: Expr;
}
export interface CompiledDerive extends Base {
  kind: "derive";
  channel: Template;
  data?: Expr;
  when?: Expr;
}
export interface CompiledWindow extends Base {
  kind: "window";
  type: WindowType;
  /** Tumbling/hopping window length; session: the gap. */
  size: number;
  hop: number;
  key: Expr;
  time: Expr;
  lateness: number;
  maxAhead: number;
  aggregates: Aggregates;
  keyAs: string;
  channel: Template;
  late: { policy: LatePolicy; channel: Template; retain: number };
}
export interface CompiledAlert extends Base {
  kind: "alert";
  on?: string;
  value: Expr;
  above: number;
  clearBelow: number;
  key?: Expr;
  channel: Template;
}
export type CompiledRule =
  | CompiledFilter
  | CompiledTransform
  | CompiledDerive
  | CompiledWindow
  | CompiledAlert;

export interface CompiledRules {
  namespace: string;
  rules: CompiledRule[];
}

export type CompileResult = { ok: true; rules: CompiledRules } | { ok: false; errors: string[] };

type Obj = Record<string, unknown>;
const KINDS = ["filter", "transform", "derive", "window", "alert"] as const;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Thrown inside one rule; the message is prefixed with the rule's path. */
class RuleError extends Error {}

function obj(v: unknown, what: string, keys: readonly string[]): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new RuleError(`${what}: must be a mapping`);
  }
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) {
      throw new RuleError(`${what}.${k}: unknown key; expected one of ${keys.join(", ")}`);
    }
  }
  return v as Obj;
}

function str(o: Obj, k: string, what: string, required: true): string;
function str(o: Obj, k: string, what: string, required: false): string | undefined;
function str(o: Obj, k: string, what: string, required: boolean): string | undefined {
  const v = o[k];
  if (v === undefined && !required) return undefined;
  if (typeof v !== "string" || v.trim() === "") {
    throw new RuleError(`${what}.${k}: must be a non-empty string`);
  }
  return v;
}

function expr(o: Obj, k: string, what: string): Expr {
  const source = str(o, k, what, true);
  try {
    return new Expr(source);
  } catch (err) {
    throw new RuleError(`${what}.${k}: ${(err as Error).message}`);
  }
}

function optExpr(o: Obj, k: string, what: string): Expr | undefined {
  return o[k] === undefined ? undefined : expr(o, k, what);
}

function template(o: Obj, k: string, what: string): Template {
  const source = str(o, k, what, true);
  try {
    return new Template(source);
  } catch (err) {
    throw new RuleError(`${what}.${k}: ${(err as Error).message}`);
  }
}

function duration(o: Obj, k: string, what: string, fallback?: number): number {
  if (o[k] === undefined && fallback !== undefined) return fallback;
  const ms = typeof o[k] === "string" ? parseDuration(o[k] as string) : undefined;
  if (ms === undefined) throw new RuleError(`${what}.${k}: must be a duration such as "10s"`);
  return ms;
}

function num(o: Obj, k: string, what: string): number | undefined {
  if (o[k] === undefined) return undefined;
  if (typeof o[k] !== "number" || !Number.isFinite(o[k])) {
    throw new RuleError(`${what}.${k}: must be a number`);
  }
  return o[k] as number;
}

function windowRule(name: string, fingerprint: string, v: unknown): CompiledWindow {
  const w = obj(v, "window", [
    "type",
    "size",
    "hop",
    "gap",
    "key",
    "time",
    "lateness",
    "maxAhead",
    "aggregates",
    "keyAs",
    "channel",
    "late",
  ]);
  const type = w.type as WindowType;
  if (!["tumbling", "hopping", "session"].includes(type)) {
    throw new RuleError("window.type: must be tumbling, hopping or session");
  }
  const MIN = 1; // 1 ms: windows are integers of milliseconds
  let size: number, hop: number;
  if (type === "session") {
    if (w.size !== undefined || w.hop !== undefined) {
      throw new RuleError("window: a session window has a gap, not size or hop");
    }
    size = hop = duration(w, "gap", "window");
  } else {
    if (w.gap !== undefined) throw new RuleError("window.gap: only for session windows");
    size = duration(w, "size", "window");
    hop = type === "hopping" ? duration(w, "hop", "window") : size;
    if (type === "tumbling" && w.hop !== undefined) {
      throw new RuleError("window.hop: only for hopping windows");
    }
    if (hop > size || size % hop !== 0) {
      throw new RuleError("window.hop: must divide size (and be at most size)");
    }
    if (size / hop > 60) throw new RuleError("window.hop: at most 60 windows per event");
  }
  if (size < MIN) throw new RuleError("window: size and gap must be at least 1ms");
  const lateness = duration(w, "lateness", "window");
  const late = obj(w.late, "window.late", ["policy", "channel", "retain"]);
  const policy = late.policy as LatePolicy;
  if (policy !== "route" && policy !== "update") {
    throw new RuleError("window.late.policy: must be route or update");
  }
  if (policy === "update" && type === "session") {
    throw new RuleError("window.late.policy: session windows support route only");
  }
  if (policy === "route" && late.retain !== undefined) {
    throw new RuleError("window.late.retain: only for policy update");
  }
  const keyAs = str(w, "keyAs", "window", false) ?? "key";
  let aggregates: Aggregates;
  try {
    aggregates = compileAggregates(
      obj(w.aggregates, "window.aggregates", Object.keys(w.aggregates ?? {})),
    );
  } catch (err) {
    throw new RuleError(`window.${(err as Error).message}`);
  }
  const reserved = [keyAs, "windowStart", "windowEnd", "revision"];
  const clash = aggregates.list.find((a) => reserved.includes(a.field));
  if (clash) throw new RuleError(`window.aggregates.${clash.field}: clashes with a result field`);
  return {
    kind: "window",
    name,
    fingerprint,
    type,
    size,
    hop,
    key: expr(w, "key", "window"),
    time: expr(w, "time", "window"),
    lateness,
    maxAhead: duration(w, "maxAhead", "window", 60_000),
    aggregates,
    keyAs,
    channel: template(w, "channel", "window"),
    late: {
      policy,
      channel: template(late, "channel", "window.late"),
      retain: policy === "update" ? duration(late, "retain", "window.late", lateness) : 0,
    },
  };
}

function alertRule(name: string, fingerprint: string, v: unknown): CompiledAlert {
  const a = obj(v, "alert", ["on", "value", "above", "clearBelow", "key", "channel"]);
  const above = num(a, "above", "alert");
  if (above === undefined) throw new RuleError("alert.above: must be a number");
  const clearBelow = num(a, "clearBelow", "alert") ?? above;
  if (clearBelow > above) throw new RuleError("alert.clearBelow: must be at most above");
  const on = str(a, "on", "alert", false);
  if (on === undefined && a.key === undefined) {
    throw new RuleError("alert.key: needed for an alert on events (its state is per key)");
  }
  return {
    kind: "alert",
    name,
    fingerprint,
    on,
    value: expr(a, "value", "alert"),
    above,
    clearBelow,
    key: optExpr(a, "key", "alert"),
    channel: template(a, "channel", "alert"),
  };
}

function rule(v: unknown): CompiledRule {
  const o = obj(v, "rule", ["name", ...KINDS, "divert"]);
  const name = typeof o.name === "string" && NAME.test(o.name) ? o.name : "";
  if (name === "") throw new RuleError("name: must match [A-Za-z0-9_-]{1,64}");
  const kinds = KINDS.filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) {
    throw new RuleError(`must have exactly one of ${KINDS.join(", ")}`);
  }
  if (o.divert !== undefined && kinds[0] !== "filter") {
    throw new RuleError("divert: only for a filter");
  }
  const fingerprint = JSON.stringify(v);
  switch (kinds[0]) {
    case "filter":
      return {
        kind: "filter",
        name,
        fingerprint,
        test: expr(o, "filter", "filter"),
        divert: o.divert === undefined ? undefined : template(o, "divert", "filter"),
      };
    case "transform":
      return { kind: "transform", name, fingerprint, expr: expr(o, "transform", "transform") };
    case "derive": {
      const d = obj(o.derive, "derive", ["channel", "data", "when"]);
      return {
        kind: "derive",
        name,
        fingerprint,
        channel: template(d, "channel", "derive"),
        data: optExpr(d, "data", "derive"),
        when: optExpr(d, "when", "derive"),
      };
    }
    case "window":
      return windowRule(name, fingerprint, o.window);
    default:
      return alertRule(name, fingerprint, o.alert);
  }
}

/** Every rule of a namespace, or every problem (the caller keeps its previous rules). */
export function compileRules(namespace: string, value: unknown): CompileResult {
  const errors: string[] = [];
  const rules: CompiledRule[] = [];
  if (value !== undefined && !Array.isArray(value)) {
    return { ok: false, errors: [`namespace ${namespace}: rules: must be a list`] };
  }
  const list = (value ?? []) as unknown[];
  const at = new Map<string, number>();
  list.forEach((v, i) => {
    const label = typeof (v as Obj)?.name === "string" ? ` (${(v as Obj).name})` : "";
    const where = `namespace ${namespace}: rules[${i}]${label}`;
    try {
      const r = rule(v);
      if (at.has(r.name)) throw new RuleError(`name: ${r.name} is used twice`);
      at.set(r.name, i);
      rules.push(r);
    } catch (err) {
      if (!(err instanceof RuleError)) throw err;
      errors.push(`${where}: ${err.message}`);
    }
  });
  // An alert on a window must name a window rule declared before it.
  rules.forEach((r, i) => {
    if (r.kind !== "alert" || r.on === undefined) return;
    const w = rules.slice(0, i).find((x) => x.name === r.on);
    if (!w || w.kind !== "window") {
      const where = `namespace ${namespace}: rules[${at.get(r.name)}] (${r.name})`;
      errors.push(`${where}: alert.on: ${r.on} is not a window rule declared before it`);
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rules: { namespace, rules } };
}

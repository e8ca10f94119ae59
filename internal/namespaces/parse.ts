import { checkChannelPattern } from "../../subjects/mod.ts";
import { parseDuration } from "../config/env.ts";
import { compileRules } from "../processing/compile.ts";
import type { RuleConfig } from "../processing/types.ts";
import {
  type AccessRule,
  type Action,
  ACTIONS,
  type ConnectionLimits,
  DEFAULT_CONNECTIONS,
  DEFAULT_LIMITS,
  type Limits,
  type Namespace,
  type NamespacesConfig,
  type Rate,
} from "./types.ts";

type Obj = Record<string, unknown>;

/** Collects every problem of a file with its path, so one start-up names them all. */
class Problems {
  readonly list: string[] = [];
  add(path: string, message: string): void {
    this.list.push(`${path}: ${message}`);
  }
}

function object(v: unknown, path: string, p: Problems, keys: readonly string[]): Obj | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    p.add(path, "must be a mapping");
    return undefined;
  }
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) {
      p.add(`${path}.${k}`, `unknown key; expected one of ${keys.join(", ")}`);
    }
  }
  return v as Obj;
}

function count(
  v: unknown,
  path: string,
  p: Problems,
  fallback: number,
  min: number,
  max: number,
): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    p.add(path, `must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return v;
}

function rate(v: unknown, path: string, p: Problems, fallback: Rate): Rate {
  const o = object(v, path, p, ["perSecond", "burst"]);
  if (!o) return fallback;
  const perSecond = count(o.perSecond, `${path}.perSecond`, p, fallback.perSecond, 1, 10_000_000);
  // A lowered rate with the inherited burst would let a caller send that burst at once.
  const burst = o.perSecond === undefined ? fallback.burst : Math.min(2 * perSecond, 10_000_000);
  return { perSecond, burst: count(o.burst, `${path}.burst`, p, burst, 1, 10_000_000) };
}

function duration(v: unknown, path: string, p: Problems, fallback: number): number {
  if (v === undefined) return fallback;
  const ms = typeof v === "string" ? parseDuration(v) : undefined;
  if (ms === undefined || ms < 1000) {
    p.add(path, 'must be a duration of at least 1s such as "30s", "1h" or "7d"');
    return fallback;
  }
  return ms;
}

function limits(v: unknown, path: string, p: Problems, base: Limits): Limits {
  const o = object(v, path, p, ["maxPayloadBytes", "publishRate", "commandRate", "replay"]);
  if (!o) return base;
  const replay = object(o.replay, `${path}.replay`, p, ["maxAge", "eventsPerSecond"]);
  return {
    maxPayloadBytes: count(
      o.maxPayloadBytes,
      `${path}.maxPayloadBytes`,
      p,
      base.maxPayloadBytes,
      1,
      64 * 1024 * 1024,
    ),
    publishRate: rate(o.publishRate, `${path}.publishRate`, p, base.publishRate),
    commandRate: rate(o.commandRate, `${path}.commandRate`, p, base.commandRate),
    replay: {
      maxAgeMs: duration(replay?.maxAge, `${path}.replay.maxAge`, p, base.replay.maxAgeMs),
      eventsPerSecond: count(
        replay?.eventsPerSecond,
        `${path}.replay.eventsPerSecond`,
        p,
        base.replay.eventsPerSecond,
        1,
        10_000_000,
      ),
    },
  };
}

const CLAIM_VALUE = (v: unknown) => ["string", "number", "boolean"].includes(typeof v);

function rule(v: unknown, path: string, p: Problems): AccessRule | undefined {
  if (v === "nobody" || v === "anonymous" || v === "authenticated") return v;
  const o = typeof v === "object" && v !== null && !Array.isArray(v) ? v as Obj : undefined;
  if (o && typeof o.claim === "string" && o.claim !== "") {
    if ("equals" in o && !("in" in o) && CLAIM_VALUE(o.equals) && Object.keys(o).length === 2) {
      return { claim: o.claim, equals: o.equals as string };
    }
    if (
      "in" in o && !("equals" in o) && Array.isArray(o.in) && o.in.every(CLAIM_VALUE) &&
      Object.keys(o).length === 2
    ) {
      return { claim: o.claim, in: o.in as string[] };
    }
  }
  p.add(
    path,
    "must be nobody, anonymous, authenticated, {claim: NAME, equals: VALUE} or {claim: NAME, in: [VALUES]}",
  );
  return undefined;
}

function rules(v: unknown, path: string, p: Problems): AccessRule[] {
  if (v === undefined) return ["nobody"];
  const list = Array.isArray(v) ? v : [v];
  return list.map((r, i) => rule(r, Array.isArray(v) ? `${path}[${i}]` : path, p)).filter((r) =>
    r !== undefined
  );
}

/** `{sub}` may stand for one whole token; everything else is an ordinary pattern. */
function channels(v: unknown, path: string, p: Problems): string {
  if (typeof v !== "string") {
    p.add(path, 'must be a channel pattern such as "chat.>" or "user.{sub}.>"');
    return "";
  }
  const check = checkChannelPattern(v.split(".").map((t) => t === "{sub}" ? "sub" : t).join("."));
  if (!check.ok) p.add(path, check.reason);
  return v;
}

function namespace(
  v: unknown,
  path: string,
  p: Problems,
  defaults: Limits,
  names: Set<string>,
): Namespace | undefined {
  const o = object(v, path, p, ["name", "channels", ...ACTIONS, "limits", "rules"]);
  if (!o) {
    if (v === undefined) p.add(path, "must be a mapping");
    return undefined;
  }
  const name = typeof o.name === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(o.name) ? o.name : "";
  if (name === "") p.add(`${path}.name`, "must match [A-Za-z0-9_-]{1,64}");
  else if (names.has(name)) p.add(`${path}.name`, `${name} is used twice`);
  names.add(name);
  const access = Object.fromEntries(
    ACTIONS.map((a) => [a, rules(o[a], `${path}.${a}`, p)]),
  ) as Record<Action, AccessRule[]>;
  const ns: Namespace = {
    name,
    channels: channels(o.channels, `${path}.channels`, p),
    access,
    limits: limits(o.limits, `${path}.limits`, p, defaults),
  };
  if (o.rules !== undefined) {
    // Compiled here only to refuse a file whose rules do not compile; route compiles its own.
    const compiled = compileRules(name || path, o.rules);
    if (!compiled.ok) { for (const e of compiled.errors) p.add(`${path}.rules`, e); }
    ns.rules = o.rules as RuleConfig[];
  }
  return ns;
}

function connections(v: unknown, p: Problems): ConnectionLimits {
  const o = object(v, "connections", p, ["perAddress", "perIdentity"]);
  return {
    perAddress: count(
      o?.perAddress,
      "connections.perAddress",
      p,
      DEFAULT_CONNECTIONS.perAddress,
      1,
      10_000_000,
    ),
    perIdentity: count(
      o?.perIdentity,
      "connections.perIdentity",
      p,
      DEFAULT_CONNECTIONS.perIdentity,
      1,
      10_000_000,
    ),
  };
}

/** Validates a parsed file; the error lists every problem with its path. */
export function parseNamespaces(value: unknown): NamespacesConfig {
  const p = new Problems();
  const root = value === null || value === undefined
    ? {}
    : object(value, "(file)", p, ["defaults", "connections", "namespaces"]) ?? {};
  const defaults = limits(root.defaults, "defaults", p, DEFAULT_LIMITS);
  const names = new Set<string>();
  let namespaces: Namespace[] = [];
  if (root.namespaces !== undefined && !Array.isArray(root.namespaces)) {
    p.add("namespaces", "must be a list");
  } else if (Array.isArray(root.namespaces)) {
    namespaces = root.namespaces.map((n, i) => namespace(n, `namespaces[${i}]`, p, defaults, names))
      .filter((n) => n !== undefined);
  }
  const cfg = { namespaces, defaults, connections: connections(root.connections, p) };
  if (p.list.length > 0) throw new NamespacesError(p.list);
  return cfg;
}

export class NamespacesError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("; "));
    this.problems = problems;
  }
}

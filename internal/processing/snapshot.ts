/**
 * Engine state as bytes, with the input position it covers, for route to keep in
 * NATS KV: after kill -9 it restores the last snapshot, re-reads its input from
 * the position after it, and publishes the same outputs with the same ids (the
 * ones it had already published are dropped by JetStream's msgID dedupe).
 *
 * Format (JSON, version 1): `{ v, namespace, position, windows: { rule: {
 * fingerprint, maxTime, keys } }, alerts: { rule: { fingerprint, firing } } }`.
 * A rule's state is restored only when its declaration (fingerprint) is unchanged:
 * after a reload that changed a rule, that rule starts empty (listed in `dropped`).
 */
import type { CompiledRules } from "./compile.ts";
import { Engine } from "./engine.ts";
import { DEFAULT_PROCESSING_LIMITS, type ProcessingLimits } from "./types.ts";
import { type WindowRuleSnapshot, WindowRuleState } from "./window-state.ts";

export interface EngineSnapshot {
  v: 1;
  namespace: string;
  /** The caller's input position (e.g. INGEST stream sequence) the state includes. */
  position: unknown;
  windows: Record<string, { fingerprint: string } & WindowRuleSnapshot>;
  alerts: Record<string, { fingerprint: string; firing: string[] }>;
}

export function snapshot(engine: Engine, position: unknown): EngineSnapshot {
  if (engine.busy) throw new Error("processing engine: snapshot while a call is in progress");
  const windows: EngineSnapshot["windows"] = {};
  for (const [name, state] of engine.windows) {
    windows[name] = { fingerprint: state.rule.fingerprint, ...state.snapshot() };
  }
  const alerts: EngineSnapshot["alerts"] = {};
  for (const r of engine.rules.rules) {
    if (r.kind === "alert") {
      alerts[r.name] = { fingerprint: r.fingerprint, firing: [...engine.firing.get(r.name)!] };
    }
  }
  return { v: 1, namespace: engine.rules.namespace, position, windows, alerts };
}

export function encodeSnapshot(s: EngineSnapshot): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(s));
}

export function decodeSnapshot(bytes: Uint8Array): EngineSnapshot {
  const s = JSON.parse(new TextDecoder().decode(bytes)) as EngineSnapshot;
  if (s?.v !== 1 || typeof s.windows !== "object" || typeof s.alerts !== "object") {
    throw new Error("processing snapshot: not a version 1 snapshot");
  }
  return s;
}

export interface Restored {
  engine: Engine;
  position: unknown;
  /** Rules whose saved state was not used (changed or removed since). */
  dropped: string[];
}

/** An engine for `rules` carrying the state of `s` where the rules still match it. */
export function restore(
  rules: CompiledRules,
  s: EngineSnapshot,
  limits: ProcessingLimits = DEFAULT_PROCESSING_LIMITS,
): Restored {
  if (s.namespace !== rules.namespace) {
    throw new Error(`processing snapshot: of namespace ${s.namespace}, not ${rules.namespace}`);
  }
  const engine = new Engine(rules, limits);
  const used = new Set<string>();
  for (const r of rules.rules) {
    if (r.kind === "window" && s.windows[r.name]?.fingerprint === r.fingerprint) {
      engine.windows.set(r.name, WindowRuleState.restore(r, limits, s.windows[r.name]));
      used.add(`window:${r.name}`);
    }
    if (r.kind === "alert" && s.alerts[r.name]?.fingerprint === r.fingerprint) {
      engine.firing.set(r.name, new Set(s.alerts[r.name].firing));
      used.add(`alert:${r.name}`);
    }
  }
  const dropped = [
    ...Object.keys(s.windows).filter((n) => !used.has(`window:${n}`)),
    ...Object.keys(s.alerts).filter((n) => !used.has(`alert:${n}`)),
  ];
  return { engine, position: s.position, dropped };
}

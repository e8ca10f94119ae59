/**
 * For tests only: builds an engine from YAML-like rule values and runs inputs
 * through it, checking on the way that every call's outputs are well formed.
 */
import { compileRules } from "./compile.ts";
import { Engine, type Input, type Output } from "./engine.ts";
import type { RefEvent } from "./reference.ts";
import { DEFAULT_PROCESSING_LIMITS, type ProcessingLimits } from "./types.ts";

export function engineFor(
  rules: unknown[],
  limits: ProcessingLimits = DEFAULT_PROCESSING_LIMITS,
  namespace = "test",
): Engine {
  const c = compileRules(namespace, rules);
  if (!c.ok) throw new Error(c.errors.join("\n"));
  return new Engine(c.rules, limits);
}

/** Inputs on `test.<key>` with data {key, t, value}. */
export function inputsOf(events: RefEvent[]): Input[] {
  return events.map((e) => ({
    id: e.id,
    channel: `test.${e.key}`,
    data: { key: e.key, t: e.t, value: e.value },
  }));
}

export interface Run {
  outputs: Output[];
  errors: string[];
}

/** Every input, then a flush unless told not to. */
export async function run(engine: Engine, inputs: Input[], flush = true): Promise<Run> {
  const out: Run = { outputs: [], errors: [] };
  for (const i of inputs) {
    const r = await engine.process(i);
    out.outputs.push(...r.outputs);
    out.errors.push(...r.errors);
  }
  if (flush) {
    const r = await engine.flush();
    out.outputs.push(...r.outputs);
    out.errors.push(...r.errors);
  }
  return out;
}

/** A window rule over {key, t, value} with every aggregate. */
export function windowRule(window: Record<string, unknown>, late: Record<string, unknown>) {
  return {
    name: "w",
    window: {
      key: "key",
      time: "t",
      aggregates: {
        count: "count()",
        sum: "sum(value)",
        min: "min(value)",
        max: "max(value)",
        avg: "avg(value)",
        p90: "p90(value)",
      },
      channel: "out.{key}",
      ...window,
      late: { channel: "late.{key}", ...late },
    },
  };
}

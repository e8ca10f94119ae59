/**
 * Window aggregates: `count()`, `sum(x)`, `min(x)`, `max(x)`, `avg(x)`, `pNN(x)`.
 * A window keeps each distinct event's inputs (bounded by maxEventsPerWindow), and
 * the result is computed when the window closes from the values in sorted order:
 * floating-point sums then do not depend on arrival order, so a replay in any
 * order yields the same bytes.
 */
import { percentile } from "./digest.ts";
import { Expr } from "./expr.ts";

export type AggregateOp = "count" | "sum" | "min" | "max" | "avg" | "percentile";

export interface Aggregate {
  /** Output field. */
  field: string;
  op: AggregateOp;
  /** 0..1 for percentile. */
  p?: number;
  /** Index into an event's stored inputs; -1 for count(). */
  input: number;
}

export interface Aggregates {
  list: Aggregate[];
  /** Distinct input expressions, evaluated once per event. */
  inputs: Expr[];
}

const SPEC = /^\s*(count|sum|min|max|avg|p(\d{1,2}(?:\.\d{1,3})?))\s*\((.*)\)\s*$/s;

/** Throws naming the field and what is wrong. */
export function compileAggregates(specs: Record<string, unknown>): Aggregates {
  const list: Aggregate[] = [];
  const inputs: Expr[] = [];
  const bySource = new Map<string, number>();
  for (const [field, spec] of Object.entries(specs)) {
    const m = typeof spec === "string" ? SPEC.exec(spec) : null;
    if (!m) {
      throw new Error(
        `aggregates.${field}: must be count(), sum(x), min(x), max(x), avg(x) or pNN(x)`,
      );
    }
    const op: AggregateOp = m[2] !== undefined ? "percentile" : m[1] as AggregateOp;
    const source = m[3].trim();
    if (op === "count") {
      if (source !== "") throw new Error(`aggregates.${field}: count() takes no expression`);
      list.push({ field, op, input: -1 });
      continue;
    }
    if (source === "") throw new Error(`aggregates.${field}: ${m[1]}() needs an expression`);
    let input = bySource.get(source);
    if (input === undefined) {
      try {
        inputs.push(new Expr(source));
      } catch (err) {
        throw new Error(`aggregates.${field}: ${(err as Error).message}`);
      }
      input = inputs.length - 1;
      bySource.set(source, input);
    }
    const p = m[2] !== undefined ? Number(m[2]) / 100 : undefined;
    if (p !== undefined && !(p > 0 && p < 1)) {
      throw new Error(`aggregates.${field}: percentile must be above 0 and below 100`);
    }
    list.push({ field, op, p, input });
  }
  if (list.length === 0) throw new Error("aggregates: at least one is needed");
  return { list, inputs };
}

/**
 * Results in declaration order. `rows` are the stored inputs of each event (a
 * non-number is null and left out of every aggregate but count). Empty sets give
 * null, so a result always has every field.
 */
export function computeAggregates(
  aggs: Aggregates,
  rows: ReadonlyArray<ReadonlyArray<number | null>>,
): Record<string, number | null> {
  const sorted = aggs.inputs.map((_, i) =>
    rows.map((r) => r[i]).filter((v): v is number => v !== null).sort((a, b) => a - b)
  );
  const out: Record<string, number | null> = {};
  for (const a of aggs.list) {
    if (a.op === "count") {
      out[a.field] = rows.length;
      continue;
    }
    const v = sorted[a.input];
    const sum = () => v.reduce((s, x) => s + x, 0);
    if (v.length === 0) out[a.field] = null;
    else if (a.op === "sum") out[a.field] = sum();
    else if (a.op === "min") out[a.field] = v[0];
    else if (a.op === "max") out[a.field] = v[v.length - 1];
    else if (a.op === "avg") out[a.field] = sum() / v.length;
    else out[a.field] = percentile(v, a.p!) ?? null;
  }
  return out;
}

/**
 * JSONata expressions and channel templates, compiled once per rule set. JSONata
 * is a query language with no access to the host (no eval of JavaScript); what it
 * can still do that would break determinism (`$now`, `$millis`, `$random`) or
 * compile code at run time (`$eval`) is refused at load and disabled at run time.
 */
import jsonata from "jsonata";
import { checkChannel } from "../../subjects/mod.ts";
import { NOT_SHORT, type Shortcut, shortcutOf } from "./expr-shortcut.ts";

/** What every expression can refer to besides its input. */
export interface Scope {
  id: string;
  channel: string;
}

/**
 * Deterministic budgets (a wall-clock timeout would fail or not depending on the
 * machine, and a replay must decide the same): nesting depth, sequence length
 * and evaluation steps per call. A rule past one fails for that event (reported
 * in the engine's errors) instead of stalling route.
 */
export const EXPR_BUDGET = { stack: 200, sequence: 100_000, steps: 100_000 };

const FORBIDDEN = /\$(now|millis|random|eval)\b/;

function refused(name: string): () => never {
  return () => {
    throw new Error(`$${name} is not available in processing rules`);
  };
}

/** Bindings that shadow the built-ins replays could not reproduce. */
const SHADOW = Object.fromEntries(
  ["now", "millis", "random", "eval"].map((n) => [n, refused(n)]),
);

export class Expr {
  readonly source: string;
  readonly #compiled: jsonata.Expression;
  readonly #shortcut: Shortcut | undefined;
  #steps = 0;

  /** Throws an Error whose message is JSONata's, with the position. */
  constructor(source: string) {
    this.source = source;
    const bad = FORBIDDEN.exec(source);
    if (bad) throw new Error(`${bad[0]} is not allowed (results must be reproducible on replay)`);
    try {
      this.#compiled = jsonata(source, {
        stack: EXPR_BUDGET.stack,
        sequence: EXPR_BUDGET.sequence,
      });
    } catch (err) {
      const e = err as { message?: string; position?: number };
      throw new Error(`${e.message ?? String(err)}${e.position ? ` at ${e.position}` : ""}`);
    }
    this.#shortcut = shortcutOf(this.#compiled.ast());
    // JSONata calls this before every node it evaluates (its documented hook, by symbol).
    const entry = Symbol.for("jsonata.__evaluate_entry") as unknown as string;
    this.#compiled.assign(entry, () => {
      if (++this.#steps > EXPR_BUDGET.steps) {
        throw new Error(`more than ${EXPR_BUDGET.steps} evaluation steps`);
      }
    });
  }

  /** Callers evaluate one expression at a time (the engine is not re-entrant). */
  evaluate(input: unknown, scope: Scope): Promise<unknown> {
    const v = this.#shortcut === undefined ? NOT_SHORT : this.#shortcut(input, scope.channel);
    return v === NOT_SHORT ? this.#evaluate(input, scope) : Promise.resolve(v);
  }

  async #evaluate(input: unknown, scope: Scope): Promise<unknown> {
    this.#steps = 0;
    try {
      return await this.#compiled.evaluate(input, {
        ...SHADOW,
        id: scope.id,
        channel: scope.channel,
        tokens: scope.channel.split("."),
      });
    } catch (err) {
      const e = err as { message?: string; position?: number };
      throw new Error(`${this.source}: ${e.message ?? String(err)}`);
    }
  }
}

/** `literal{expr}literal`: each `{...}` is an expression; braces do not nest. */
export class Template {
  readonly source: string;
  readonly #parts: Array<string | Expr>;

  constructor(source: string) {
    this.source = source;
    this.#parts = [];
    const re = /\{([^{}]*)\}/g;
    let last = 0;
    for (let m = re.exec(source); m; m = re.exec(source)) {
      if (m.index > last) this.#parts.push(source.slice(last, m.index));
      this.#parts.push(new Expr(m[1]));
      last = m.index + m[0].length;
    }
    if (last < source.length) this.#parts.push(source.slice(last));
    const rest = this.#parts.filter((p) => typeof p === "string").join("");
    if (/[{}]/.test(rest)) throw new Error(`unbalanced braces in template ${source}`);
  }

  /** A valid channel name, or throws saying why not. */
  async render(input: unknown, scope: Scope): Promise<string> {
    let out = "";
    for (const part of this.#parts) {
      if (typeof part === "string") {
        out += part;
        continue;
      }
      const v = await part.evaluate(input, scope);
      if (typeof v !== "string" && !(typeof v === "number" && Number.isFinite(v))) {
        throw new Error(`{${part.source}} gave ${JSON.stringify(v) ?? "nothing"}, not a string`);
      }
      out += String(v);
    }
    const check = checkChannel(out);
    if (!check.ok) throw new Error(`channel ${JSON.stringify(out)}: ${check.reason}`);
    return out;
  }
}

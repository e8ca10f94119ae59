/**
 * The expressions rules use most, answered without JSONata: a field of the
 * input (`temperature`, `ts`) and a token of the channel (`$tokens[2]`).
 * JSONata evaluates even these through its async evaluator, and route runs
 * several per event (a window's time, key and aggregate inputs), so they cost
 * more than the rest of the step. Recognised from JSONata's own parse tree,
 * so `a[0]`, `a.b` or `$tokens[-1]` are not mistaken for them; and a field is
 * only answered when JSONata's answer is the value itself (a plain object's
 * own field holding a string, number, boolean or null). Otherwise, `NOT_SHORT`:
 * JSONata decides.
 */
export const NOT_SHORT = Symbol("not short");

export type Shortcut = (input: unknown, channel: string) => unknown;

/** A node of JSONata's parse tree, as far as the forms above need it. */
interface Node {
  type: string;
  value?: unknown;
  steps?: unknown[];
  predicate?: unknown[];
  expr?: unknown;
}

/**
 * A node with no keys but `type`, `position` and `keys`: one with more (`stages`, `keepArray`,
 * `group`...) is a longer expression.
 */
function only(node: unknown, ...keys: string[]): node is Node {
  return typeof node === "object" && node !== null &&
    Object.keys(node).every((k) => k === "type" || k === "position" || keys.includes(k));
}

function field(name: string): Shortcut {
  return (input) => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) return NOT_SHORT;
    if (!Object.hasOwn(input, name)) return NOT_SHORT;
    const v = (input as Record<string, unknown>)[name];
    return v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean"
      ? v
      : NOT_SHORT;
  };
}

/** `channel.split(".")[i]`, without the array. */
export function tokenAt(channel: string, i: number): string | undefined {
  let start = 0;
  for (let n = 0; n < i; n++) {
    const dot = channel.indexOf(".", start);
    if (dot < 0) return undefined;
    start = dot + 1;
  }
  const end = channel.indexOf(".", start);
  return end < 0 ? channel.slice(start) : channel.slice(start, end);
}

/** The shortcut for a parsed expression, if it is one of the forms above. */
export function shortcutOf(ast: unknown): Shortcut | undefined {
  if (!only(ast, "steps", "value", "predicate")) return undefined;
  if (ast.type === "path" && only(ast, "steps") && ast.steps?.length === 1) {
    const step = ast.steps[0];
    if (only(step, "value") && step.type === "name" && typeof step.value === "string") {
      return field(step.value);
    }
  }
  if (ast.type === "variable" && ast.value === "tokens" && ast.predicate?.length === 1) {
    const filter = ast.predicate[0];
    const index = only(filter, "expr") && filter.type === "filter" ? filter.expr : undefined;
    if (only(index, "value") && index.type === "number") {
      const i = index.value;
      if (typeof i === "number" && Number.isSafeInteger(i) && i >= 0) {
        return (_input, channel) => tokenAt(channel, i);
      }
    }
  }
  return undefined;
}

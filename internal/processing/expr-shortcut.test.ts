import { isDeepStrictEqual } from "node:util";
import jsonata from "jsonata";
import t from "tap";
import { shortcutOf, tokenAt } from "./expr-shortcut.ts";
import { Expr } from "./expr.ts";

const channels = ["iot.readings.dev-0001", "a", "", "a..b", "x.y"];
const inputs: unknown[] = [
  { temperature: 65.5, ts: 1700000000000, device: "d1", ok: true },
  { temperature: null, ts: "2026-01-01T00:00:00Z" },
  { temperature: [1, 2], ts: { at: 1 } },
  { temperature: [[1]], ts: [] },
  { temperature: Number.NaN, ts: -0 },
  { temperature: Infinity, ts: 0 },
  [{ temperature: 1 }, { temperature: 2 }],
  [{ temperature: 1 }],
  Object.create({ temperature: 3 }),
  { constructor: 1, toString: "x" },
  "temperature",
  42,
  null,
  undefined,
];
/** A field or a channel token: answered without JSONata. */
const short = [
  "temperature",
  "ts",
  "constructor",
  "toString",
  "`two words`",
  "and",
  "$tokens[0]",
  "$tokens[2]",
  "$tokens[9]",
];
const sources = [
  ...short,
  "$tokens[-1]",
  "$tokens[1.5]",
  "$tokens[2][0]",
  "$tokens[2].x",
  "$tokens[[2]]",
  "temperature[]",
  "temperature[0]",
  "temperature.x",
  "temperature{}",
  "-temperature",
  "(temperature)",
];

/** Arrays as plain arrays: JSONata marks its sequences, and Expr's budget wraps their push. */
function norm(v: unknown): unknown {
  return Array.isArray(v) ? v.map(norm) : v;
}

/** JSONata alone, with the bindings Expr gives it. */
async function plain(source: string, input: unknown, channel: string): Promise<unknown> {
  try {
    return await jsonata(source).evaluate(input, { tokens: channel.split(".") });
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

t.test("an expression answers as JSONata does, shortcut or not", async (t) => {
  for (const source of sources) {
    const expr = new Expr(source);
    const differ: string[] = [];
    for (const channel of channels) {
      for (const [i, input] of inputs.entries()) {
        const want = await plain(source, input, channel);
        const got = await expr.evaluate(input, { id: "e1", channel }).catch((err) =>
          `error: ${(err as Error).message.replace(`${source}: `, "")}`
        );
        // Strict: NaN is NaN, -0 is not 0.
        if (!isDeepStrictEqual(norm(got), norm(want))) differ.push(`input ${i}, "${channel}"`);
      }
    }
    t.same(differ, [], source);
  }
});

t.test("only a field and a channel token take the shortcut", async (t) => {
  t.same(sources.filter((s) => shortcutOf(jsonata(s).ast()) !== undefined), short);
});

t.test("tokenAt is split's index", async (t) => {
  for (const channel of channels) {
    for (let i = 0; i < 5; i++) t.equal(tokenAt(channel, i), channel.split(".")[i]);
  }
});

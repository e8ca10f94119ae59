import t from "tap";
import { compileRules } from "./compile.ts";

function errors(rules: unknown): string[] {
  const r = compileRules("ns", rules);
  return r.ok ? [] : r.errors;
}

const window = {
  type: "tumbling",
  size: "10s",
  lateness: "5s",
  key: "device",
  time: "ts",
  aggregates: { avg: "avg(temperature)" },
  channel: "out.{device}",
  late: { policy: "route", channel: "late.x" },
};

t.test("every kind compiles", async (t) => {
  const r = compileRules("ns", [
    { name: "f", filter: "x > 1", divert: "other.{$tokens[1]}" },
    { name: "t", transform: '{"y": x * 2}' },
    { name: "d", derive: { channel: "d.{$tokens[1]}", data: "y", when: "y > 4" } },
    { name: "w", window },
    { name: "a", alert: { on: "w", value: "avg", above: 80, clearBelow: 75, channel: "al.x" } },
    { name: "e", alert: { value: "y", above: 1, key: "$tokens[1]", channel: "al.y" } },
  ]);
  t.ok(r.ok);
  if (r.ok) {
    t.same(r.rules.rules.map((x) => x.kind), [
      "filter",
      "transform",
      "derive",
      "window",
      "alert",
      "alert",
    ]);
  }
  t.same(errors(undefined), [], "no rules");
});

t.test("all errors at once, each naming namespace, index, rule and the JSONata error", async (t) => {
  const list = errors([
    { name: "bad-filter", filter: "x >" },
    { name: "ok", transform: "x" },
    { name: "bad-template", derive: { channel: "a.{$tokens[" } },
    { name: "clock", transform: "$now()" },
    { filter: "true" },
  ]);
  t.equal(list.length, 4);
  t.match(list[0], /^namespace ns: rules\[0\] \(bad-filter\): filter\.filter: .*at 3/);
  t.match(
    list[1],
    /^namespace ns: rules\[2\] \(bad-template\): derive\.channel: unbalanced braces/,
  );
  t.match(
    list[2],
    /^namespace ns: rules\[3\] \(clock\): transform\.transform: \$now is not allowed/,
  );
  t.match(list[3], /^namespace ns: rules\[4\]: name: must match/);
});

t.test("structure errors", async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ["x", /rules: must be a list/],
    [[{ name: "a", filter: "1", transform: "2" }], /exactly one of/],
    [[{ name: "a", transform: "x", divert: "y" }], /divert: only for a filter/],
    [[{ name: "a", transform: "x" }, { name: "a", transform: "y" }], /a is used twice/],
    [[{ name: "a", what: 1 }], /rule\.what: unknown key/],
    [[{ name: "w", window: { ...window, type: "sliding" } }], /window\.type/],
    [[{ name: "w", window: { ...window, size: "ten" } }], /window\.size: must be a duration/],
    [[{ name: "w", window: { ...window, type: "hopping", hop: "3s" } }], /hop: must divide size/],
    [[{ name: "w", window: { ...window, type: "session" } }], /session window has a gap/],
    [
      [{ name: "w", window: { ...window, aggregates: { a: "median(x)" } } }],
      /aggregates\.a: must be/,
    ],
    [[{ name: "w", window: { ...window, aggregates: { a: "sum(x +)" } } }], /aggregates\.a: /],
    [[{ name: "w", window: { ...window, aggregates: { a: "p0(x)" } } }], /percentile/],
    [[{ name: "w", window: { ...window, aggregates: { windowStart: "count()" } } }], /clashes/],
    [
      [{ name: "w", window: { ...window, late: { policy: "drop", channel: "l" } } }],
      /policy: must be route or update/,
    ],
    [
      [{
        name: "w",
        window: {
          ...window,
          type: "session",
          size: undefined,
          gap: "5s",
          late: { policy: "update", channel: "l" },
        },
      }],
      /session windows support route only/,
    ],
    [[{ name: "a", alert: { value: "x", above: 1, channel: "c" } }], /alert\.key: needed/],
    [
      [{ name: "a", alert: { on: "w", value: "x", above: 1, channel: "c" } }],
      /alert\.on: w is not a window rule declared before it/,
    ],
    [
      [{ name: "a", alert: { value: "x", above: 1, clearBelow: 2, key: "k", channel: "c" } }],
      /clearBelow: must be at most above/,
    ],
  ];
  for (const [rules, re] of cases) {
    const list = errors(rules);
    t.equal(list.length, 1, JSON.stringify(rules));
    t.match(list[0] ?? "", re);
  }
});

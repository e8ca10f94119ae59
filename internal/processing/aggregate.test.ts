import t from "tap";
import { compileAggregates, computeAggregates } from "./aggregate.ts";

t.test("each aggregate, inputs shared, non-numbers left out of all but count", async (t) => {
  const a = compileAggregates({
    n: "count()",
    s: "sum(x)",
    lo: "min(x)",
    hi: "max(x)",
    mean: "avg( x )",
    med: "p50(x)",
    y: "sum(y)",
  });
  t.equal(a.inputs.length, 2, "x is evaluated once per event");
  t.same(computeAggregates(a, [[1, null], [3, 2], [null, null], [2, 4]]), {
    n: 4,
    s: 6,
    lo: 1,
    hi: 3,
    mean: 2,
    med: 2,
    y: 6,
  });
  t.same(computeAggregates(a, []), {
    n: 0,
    s: null,
    lo: null,
    hi: null,
    mean: null,
    med: null,
    y: null,
  });
});

t.test("a sum does not depend on the order of its values", async (t) => {
  const a = compileAggregates({ s: "sum(x)" });
  const values = [0.1, 0.2, 0.3, 1e16, -1e16, 0.7];
  const sums = new Set(
    [values, [...values].reverse(), [values[3], ...values.slice(0, 3), ...values.slice(4)]].map((
      v,
    ) => computeAggregates(a, v.map((x) => [x])).s),
  );
  t.equal(sums.size, 1);
});

t.test("refused specs", async (t) => {
  t.throws(() => compileAggregates({}), /at least one/);
  t.throws(() => compileAggregates({ a: "count(x)" }), /count\(\) takes no expression/);
  t.throws(() => compileAggregates({ a: "sum()" }), /sum\(\) needs an expression/);
  t.throws(() => compileAggregates({ a: 3 }), /must be count\(\)/);
});

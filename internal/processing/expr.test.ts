import t from "tap";
import { Expr, EXPR_BUDGET, Template } from "./expr.ts";

const scope = { id: "e1", channel: "iot.readings.d7" };

t.test("bindings: $id, $channel, $tokens", async (t) => {
  t.same(await new Expr("[$id, $channel, $tokens[2], x]").evaluate({ x: 1 }, scope), [
    "e1",
    "iot.readings.d7",
    "d7",
    1,
  ]);
});

t.test("the clock, random and $eval are refused at compile time", async (t) => {
  for (const f of ["$now()", "$millis()", "$random()", '$eval("1")', "($f := $now; $f())"]) {
    t.throws(() => new Expr(f), /is not allowed/, f);
  }
});

t.test("templates render valid channels or say why not", async (t) => {
  t.equal(await new Template("alerts.{$tokens[2]}.{n}").render({ n: 3 }, scope), "alerts.d7.3");
  await t.rejects(new Template("a.{x}").render({ x: "b c" }, scope), /must match/);
  await t.rejects(new Template("a.{x}").render({}, scope), /gave nothing, not a string/);
  t.throws(() => new Template("a.{x"), /unbalanced/);
});

t.test("budgets: deep recursion, long sequences and long loops fail, deterministically", async (t) => {
  const rec = new Expr("($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(n))");
  t.equal(await rec.evaluate({ n: 10 }, scope), 10);
  await t.rejects(rec.evaluate({ n: 10_000 }, scope), /Stack|stack|depth/);
  await t.rejects(new Expr("$count([1..1000000])").evaluate({}, scope), /sequence|1e5|exceed/i);
  const loop = new Expr("$sum([1..50000].($sum([1..50])))");
  await t.rejects(loop.evaluate({}, scope), new RegExp(`more than ${EXPR_BUDGET.steps}`));
  t.equal(
    await new Expr("$sum([1..1000])").evaluate({}, scope),
    500500,
    "the budget resets per call",
  );
});

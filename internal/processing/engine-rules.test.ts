/** Filter, transform, derive, alerts on events and on windows, run-time errors. */
import t from "tap";
import { referenceAlerts } from "./reference.ts";
import { engineFor, run } from "./testing.ts";

const ev = (id: string, channel: string, data: unknown) => ({ id, channel, data });

t.test("filter, divert, transform and derive in order", async (t) => {
  const engine = engineFor([
    { name: "positive", filter: "amount > 0", divert: "rejected.{$tokens[1]}" },
    { name: "cents", transform: '{"cents": amount * 100, "acct": $tokens[1]}' },
    {
      name: "big",
      derive: {
        when: "cents >= 100000",
        channel: "flagged.{acct}",
        data: '{"tx": $id, "cents": cents}',
      },
    },
    { name: "only-some", filter: "cents != 500" },
  ]);
  const r1 = await engine.process(ev("a", "tx.acct1", { amount: -1 }));
  t.same(r1.outputs, [{
    kind: "diverted",
    rule: "positive",
    id: "test/positive:a",
    channel: "rejected.acct1",
    data: { amount: -1 },
  }]);
  const r2 = await engine.process(ev("b", "tx.acct1", { amount: 2000 }));
  t.same(r2.outputs, [
    {
      kind: "derived",
      rule: "big",
      id: "test/big:b",
      channel: "flagged.acct1",
      data: { tx: "b", cents: 200000 },
    },
    { kind: "event", id: "b", channel: "tx.acct1", data: { cents: 200000, acct: "acct1" } },
  ]);
  const r3 = await engine.process(ev("c", "tx.acct2", { amount: 5 }));
  t.same(r3, { outputs: [], errors: [] }, "a filter without divert drops");
  t.same(r2.errors, []);
});

t.test("a run-time error stops a filter or transform, is reported, publishes nothing of it", async (t) => {
  const engine = engineFor([
    { name: "d", derive: { channel: "x.{missing}" } },
    { name: "tr", transform: "$number(text)" },
  ]);
  const r = await engine.process(ev("a", "c.d", { text: "abc" }));
  t.same(r.outputs, []);
  t.equal(r.errors.length, 2);
  t.match(r.errors[0], /^namespace test rule d: .*missing/);
  t.match(r.errors[1], /^namespace test rule tr: /);
  const lookup = engineFor([{ name: "lookup", transform: "$lookup($, 'x')" }]);
  t.same((await lookup.process(ev("b", "c.d", { x: 1 }))).outputs[0].data, 1);
});

t.test("alert on events: hysteresis per key, fires once, clears once", async (t) => {
  const engine = engineFor([
    {
      name: "hot",
      alert: {
        value: "temp",
        above: 80,
        clearBelow: 75,
        key: "$tokens[1]",
        channel: "alerts.{key}",
      },
    },
  ]);
  const temps = [70, 81, 85, 79, 76, 75, 90, 95, 60, 82];
  const states: string[] = [];
  const other: string[] = [];
  for (const [i, temp] of temps.entries()) {
    for (const [dev, list] of [["d1", states], ["d2", other]] as const) {
      const r = await engine.process(
        ev(`${dev}-${i}`, `iot.${dev}`, { temp: dev === "d1" ? temp : 0 }),
      );
      for (const o of r.outputs.filter((o) => o.kind === "alert")) {
        list.push((o.data as { state: string }).state);
        t.equal(o.channel, `alerts.${dev}`);
        t.equal(o.id, `test/hot:${dev}-${i}`);
      }
    }
  }
  t.same(states, referenceAlerts(temps, 80, 75));
  t.same(states, ["firing", "cleared", "firing", "cleared", "firing"]);
  t.same(other, [], "another key has its own state");
});

t.test("alert on window results (the IoT rule)", async (t) => {
  const engine = engineFor([
    {
      name: "avg10s",
      window: {
        type: "tumbling",
        size: "10s",
        lateness: "0s",
        key: "$tokens[1]",
        time: "ts",
        keyAs: "device",
        aggregates: { avg: "avg(temperature)" },
        channel: "avg.{device}",
        late: { policy: "route", channel: "late.{$tokens[1]}" },
      },
    },
    {
      name: "hot",
      alert: { on: "avg10s", value: "avg", above: 80, clearBelow: 75, channel: "alerts.{key}" },
    },
  ]);
  const avgs = [70, 81, 90, 78, 74, 85];
  const inputs = avgs.map((a, i) => ev(`e${i}`, "iot.d1", { ts: i * 10_000 + 1, temperature: a }));
  const got = await run(engine, inputs);
  const alerts = got.outputs.filter((o) => o.kind === "alert");
  t.same(alerts.map((o) => (o.data as { state: string }).state), referenceAlerts(avgs, 80, 75));
  t.same(alerts.map((o) => o.id), [
    "test/hot@test/avg10s:d1:10000",
    "test/hot@test/avg10s:d1:40000",
    "test/hot@test/avg10s:d1:50000",
  ]);
  t.equal(alerts[0].channel, "alerts.d1");
  t.same((alerts[0].data as { source: unknown }).source, {
    device: "d1",
    windowStart: 10_000,
    windowEnd: 20_000,
    avg: 81,
  });
});

t.test("events without a valid time or key go to the late channel, with the reason", async (t) => {
  const engine = engineFor([{
    name: "w",
    window: {
      type: "tumbling",
      size: "1s",
      lateness: "0s",
      key: "k",
      time: "ts",
      aggregates: { n: "count()" },
      channel: "o.{key}",
      late: { policy: "route", channel: "late.x" },
    },
  }]);
  const r1 = await engine.process(ev("a", "c", { k: "x", ts: "yesterday" }));
  t.match(r1.outputs[0], { kind: "late", id: "test/w:late:a", data: { reason: "invalid-time" } });
  const r2 = await engine.process(ev("b", "c", { ts: 5 }));
  t.match(r2.outputs[0], { kind: "late", data: { reason: "invalid-key", eventTime: 5 } });
  const r3 = await engine.process(ev("c", "c", { k: "x", ts: "2026-01-01T00:00:00Z" }));
  t.equal(r3.outputs.length, 1, "an ISO time is accepted");
  const now = Date.parse("2026-01-01T00:00:00Z");
  const r4 = await engine.process({ ...ev("d", "c", { k: "x", ts: now + 120_000 }), ts: now });
  t.match(r4.outputs[0], { kind: "late", data: { reason: "future", eventTime: now + 120_000 } });
  const r5 = await engine.process({ ...ev("e", "c", { k: "x", ts: now + 30_000 }), ts: now });
  t.notOk(r5.outputs.some((o) => o.kind === "late"), "within maxAhead (1m) of the receive time");
});

t.test("calls must not overlap", async (t) => {
  const engine = engineFor([{ name: "t", transform: "x" }]);
  const first = engine.process(ev("a", "c", { x: 1 }));
  await t.rejects(engine.process(ev("b", "c", { x: 1 })), /after the last settled/);
  await first;
});

/**
 * Snapshot and restore mid-stream give exactly the outputs of an uninterrupted
 * run (the kill -9 case: route restores the last checkpoint and re-reads from its
 * position).
 */
import t from "tap";
import type { Output } from "./engine.ts";
import { generate } from "./reference.ts";
import { decodeSnapshot, encodeSnapshot, restore, snapshot } from "./snapshot.ts";
import { engineFor, inputsOf, run, windowRule } from "./testing.ts";
import { compileRules } from "./compile.ts";

const rules = [
  windowRule({ type: "hopping", size: "30s", hop: "10s", lateness: "3s" }, {
    policy: "update",
    retain: "20s",
  }),
  { ...windowRule({ type: "session", gap: "5s", lateness: "4s" }, { policy: "route" }), name: "s" },
  { name: "hot", alert: { on: "w", value: "avg", above: 55, clearBelow: 45, channel: "al.{key}" } },
  { name: "big", alert: { value: "value", above: 90, clearBelow: 20, key: "key", channel: "b.x" } },
];

const events = generate({
  seed: 42,
  keys: 5,
  events: 600,
  step: 400,
  lateness: 3000,
  span: 40_000,
  duplicates: 60,
  lates: 20,
  value: (r) => Math.round(r() * 10_000) / 100,
});
const inputs = inputsOf(events);

t.test("restore at any point continues exactly like the uninterrupted run", async (t) => {
  const whole = await run(engineFor(rules), inputs);
  t.ok(whole.outputs.some((o) => o.kind === "alert"), "alerts fired");
  t.ok(whole.outputs.some((o) => /:r\d+$/.test(o.id)), "corrections published");
  for (const cut of [1, 97, 300, 451, inputs.length - 1]) {
    const first = engineFor(rules);
    const a = await run(first, inputs.slice(0, cut), false);
    const bytes = encodeSnapshot(snapshot(first, { seq: cut }));
    const compiled = compileRules("test", rules);
    if (!compiled.ok) throw new Error("rules");
    const back = restore(compiled.rules, decodeSnapshot(bytes));
    t.same(back.position, { seq: cut });
    t.same(back.dropped, []);
    const b = await run(back.engine, inputs.slice(cut));
    const joined: Output[] = [...a.outputs, ...b.outputs];
    t.equal(JSON.stringify(joined), JSON.stringify(whole.outputs), `cut at ${cut}`);
    t.equal(
      JSON.stringify(snapshot(back.engine, 0)),
      JSON.stringify(snapshot(
        await (async () => {
          const e = engineFor(rules);
          await run(e, inputs);
          return e;
        })(),
        0,
      )),
      `cut at ${cut}: same final state`,
    );
  }
});

t.test("a replay after a crash publishes the same ids again, nothing new", async (t) => {
  // Crash after publishing the outputs of input k but before the checkpoint at k.
  const e1 = engineFor(rules);
  await run(e1, inputs.slice(0, 200), false);
  const checkpoint = encodeSnapshot(snapshot(e1, 200));
  const published = await run(e1, inputs.slice(200, 260), false);
  const compiled = compileRules("test", rules);
  if (!compiled.ok) throw new Error("rules");
  const e2 = restore(compiled.rules, decodeSnapshot(checkpoint)).engine;
  const replayed = await run(e2, inputs.slice(200, 260), false);
  t.equal(JSON.stringify(replayed), JSON.stringify(published));
});

t.test("changed or removed rules start empty; other namespaces are refused", async (t) => {
  const e = engineFor(rules);
  await run(e, inputs.slice(0, 100), false);
  const s = snapshot(e, 1);
  const changed = compileRules("test", [
    rules[0],
    { ...rules[1], window: { ...(rules[1] as { window: object }).window, gap: "6s" } },
  ]);
  if (!changed.ok) throw new Error(changed.errors.join());
  const r = restore(changed.rules, s);
  t.same(r.dropped.sort(), ["big", "hot", "s"]);
  t.equal(r.engine.windows.get("s")!.size.keys, 0);
  t.ok(r.engine.windows.get("w")!.size.keys > 0);
  const other = compileRules("other", rules);
  if (!other.ok) throw new Error("rules");
  t.throws(() => restore(other.rules, s), /of namespace test, not other/);
  t.throws(() => decodeSnapshot(new TextEncoder().encode('{"v":2}')), /version 1/);
});

t.test("no snapshot while a call is in progress", async (t) => {
  const e = engineFor(rules);
  const p = e.process(inputs[0]);
  t.throws(() => snapshot(e, 0), /in progress/);
  await p;
});

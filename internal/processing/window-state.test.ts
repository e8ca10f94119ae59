/** The caps: every buffer has a bound, and what goes over it is said, never lost. */
import t from "tap";
import { engineFor, windowRule } from "./testing.ts";

const limits = { maxKeys: 2, maxWindowsPerKey: 3, maxEventsPerWindow: 4, maxStoredEvents: 100 };
const ev = (id: string, key: string, tMs: number) => ({
  id,
  channel: "c",
  data: { key, t: tMs, value: 1 },
});

t.test("a key over maxKeys: its events go to the late channel as too-many-keys", async (t) => {
  const e = engineFor([
    windowRule({ type: "tumbling", size: "10s", lateness: "60s" }, { policy: "route" }),
  ], limits);
  await e.process(ev("1", "a", 0));
  await e.process(ev("2", "b", 0));
  const r = await e.process(ev("3", "c", 0));
  t.match(r.outputs[0], { kind: "late", data: { reason: "too-many-keys", windows: [0] } });
  t.same(e.windows.get("w")!.size, { keys: 2, windows: 2, events: 2 });
});

t.test("windows over maxWindowsPerKey: too-many-windows", async (t) => {
  const e = engineFor([
    windowRule({ type: "tumbling", size: "1s", lateness: "60s" }, { policy: "route" }),
  ], limits);
  for (const [i, ms] of [0, 1000, 2000].entries()) await e.process(ev(`${i}`, "a", ms));
  const r = await e.process(ev("x", "a", 3000));
  t.match(r.outputs[0], { kind: "late", data: { reason: "too-many-windows" } });
});

t.test("events over maxEventsPerWindow: window-full; duplicates never count", async (t) => {
  const e = engineFor([
    windowRule({ type: "tumbling", size: "10s", lateness: "0s" }, { policy: "route" }),
  ], limits);
  for (const id of ["1", "2", "1", "3", "4", "2"]) {
    const r = await e.process(ev(id, "a", 5));
    t.equal(r.outputs.filter((o) => o.kind === "late").length, 0, `${id} counted or a duplicate`);
  }
  const r = await e.process(ev("5", "a", 5));
  t.match(r.outputs[0], { kind: "late", data: { reason: "window-full" } });
  const done = await e.flush();
  t.match(done.outputs[0], { kind: "window", data: { count: 4 } });
});

t.test("sessions: merging over the cap is refused (window-full), the sessions stay apart", async (t) => {
  const e = engineFor(
    [windowRule({ type: "session", gap: "10s", lateness: "60s" }, { policy: "route" })],
    { ...limits, maxEventsPerWindow: 2 },
  );
  await e.process(ev("1", "a", 0));
  await e.process(ev("2", "a", 1000));
  const r = await e.process(ev("3", "a", 2000));
  t.match(r.outputs[0], { kind: "late", data: { reason: "window-full" } });
  const done = await e.flush();
  t.same(done.outputs.map((o) => o.data), [{
    key: "a",
    windowStart: 0,
    windowEnd: 11_000,
    count: 2,
    sum: 2,
    min: 1,
    max: 1,
    avg: 1,
    p90: 1,
  }]);
});

t.test("closed windows are forgotten (after retain under update)", async (t) => {
  const e = engineFor([
    windowRule({ type: "tumbling", size: "1s", lateness: "0s" }, {
      policy: "update",
      retain: "2s",
    }),
  ], limits);
  await e.process(ev("1", "a", 0));
  await e.process(ev("2", "a", 1500));
  t.same(
    e.windows.get("w")!.size,
    { keys: 1, windows: 2, events: 2 },
    "the closed one is kept for corrections",
  );
  const fix = await e.process(ev("3", "a", 10));
  t.match(fix.outputs.find((o) => o.kind === "window"), {
    id: "test/w:a:0:r1",
    data: { count: 2, revision: 1 },
  });
  await e.process(ev("4", "b", 4000));
  t.same(e.windows.get("w")!.size, { keys: 1, windows: 1, events: 1 }, "past retain: gone");
  const late = await e.process(ev("5", "a", 20));
  t.match(late.outputs[0], { kind: "late", data: { reason: "late", windows: [0] } });
});

t.test("events over maxStoredEvents of a rule: state-full", async (t) => {
  const e = engineFor(
    [windowRule({ type: "hopping", size: "3s", hop: "1s", lateness: "60s" }, { policy: "route" })],
    { ...limits, maxStoredEvents: 5 },
  );
  await e.process(ev("1", "a", 2500));
  const r = await e.process(ev("2", "a", 2600));
  t.match(r.outputs[0], { kind: "late", data: { reason: "state-full", windows: [2000] } });
  t.equal(e.windows.get("w")!.size.events, 5);
  await e.flush();
  t.equal(e.windows.get("w")!.size.events, 0, "closed windows give their room back");
});

import t from "tap";
import { JetmeshError } from "../errors/mod.ts";
import { Pace } from "./pace.ts";
import { rig, start } from "./subscription-fakes.ts";
import { until } from "./subscription-stream-fakes.ts";

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

t.test("errors while catching up", async (t) => {
  t.test("one retrying cannot fix ends the subscription with it", async (t) => {
    const r = rig({ after: 2, fromStore: true });
    for (const _ of range(1, 6)) r.stream.append();
    r.stream.firstSeq = 5;
    const boom = new Error("boom");
    r.store.errors.push(boom);
    const sub = await start(r);
    await until(() => sub.phase === "stopped");
    t.same(r.ends, [boom]);
    t.same(r.hub.calls, ["add", "remove"]);
    t.equal(r.stream.consumers[0].deleted, true);
  });
  t.test("a database outage is waited out", async (t) => {
    const r = rig({ after: 2, fromStore: true });
    for (const _ of range(1, 6)) r.stream.append();
    r.stream.firstSeq = 5;
    r.store.add(3);
    r.store.add(4);
    r.store.errors.push(new JetmeshError("unavailable", "database down"));
    const sub = await start(r);
    await until(() => sub.phase === "live");
    t.same(r.sink.seqs, [3, 4, 5, 6]);
    t.same(r.store.calls, ["2..5", "2..5"]);
    t.match(r.logs.join("\n"), /replay from PostgreSQL failed, retrying/);
  });
  t.test("the bus away when joining again is waited out", async (t) => {
    const r = rig();
    const sub = await start(r);
    r.stream.append();
    r.stream.getErrors.push(new JetmeshError("unavailable", "no JetStream"));
    r.hub.gap();
    await until(() => sub.phase === "live" && r.sink.seqs.length === 1);
    t.match(r.logs.join("\n"), /ordered consumer not available yet/);
    t.same(r.ends, []);
  });
  t.test("the bus away at open fails the open and leaves the hub", async (t) => {
    const r = rig({ after: 0 });
    r.hub.position = r.stream.append();
    const down = new JetmeshError("unavailable", "no JetStream");
    r.stream.getErrors.push(down);
    await t.rejects(r.sub.open(), down);
    t.equal(r.sub.phase, "stopped");
    t.same(r.hub.calls, ["add", "remove"]);
  });
  t.test("a replay over the namespace's limit ends with limit_exceeded", async (t) => {
    const pace = new Pace(
      { maxAgeMs: 1000, eventsPerSecond: 100 },
      "chat",
      () => Date.now() + 60_000,
    );
    const r = rig({ after: 0, pace });
    r.hub.position = r.stream.append();
    const sub = await start(r);
    await until(() => sub.phase === "stopped");
    t.equal(r.ends.length, 1);
    t.match(r.ends[0], { code: "limit_exceeded" });
    t.same(r.sink.seqs, []);
  });
  t.test("an undecodable message is skipped", async (t) => {
    const r = rig({ after: 0 });
    r.stream.append();
    r.stream.append(undefined, { bad: true });
    r.hub.position = r.stream.append();
    const sub = await start(r);
    await until(() => sub.phase === "live");
    t.same(r.sink.seqs, [1, 3]);
    t.match(r.logs.join("\n"), /undecodable event skipped/);
  });
  t.test("a recreated stream ends it with unavailable, in any phase", async (t) => {
    const r = rig({ after: 0 });
    r.hub.position = r.stream.append();
    r.stream.gate.closed = true;
    const sub = await start(r);
    t.equal(sub.phase, "catchingUpFromStream");
    sub.recreated();
    t.equal(sub.phase, "stopped");
    t.match(r.ends, [{ code: "unavailable" }]);
    const live = rig();
    await start(live);
    live.sub.recreated();
    t.match(live.ends, [{ code: "unavailable" }]);
  });
});

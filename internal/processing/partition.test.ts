import t from "tap";
import { fileURLToPath } from "node:url";
import { loadNamespaces } from "../namespaces/load.ts";
import { parseNamespaces } from "../namespaces/mod.ts";
import type { Envelope } from "../../subjects/envelope.ts";
import { decodeEnvelope, encodeEnvelope } from "../../subjects/envelope.ts";
import { PartitionProcessor, type StepResult } from "./partition.ts";
import { generate } from "./reference.ts";
import { PROCESSING_PUBLISHER, ProcessingConfigError, ProcessingSet } from "./route-step.ts";
import { decodeSnapshot, encodeSnapshot } from "./snapshot.ts";

const iot = () =>
  ProcessingSet.fromConfig(
    loadNamespaces(fileURLToPath(new URL("../../examples/iot/namespaces.yaml", import.meta.url))),
  );

/** The IoT example's input as INGEST envelopes, sequences from 1. */
function envelopes(seed: number): Envelope[] {
  const events = generate({
    seed,
    keys: 5,
    events: 600,
    step: 300,
    lateness: 5000,
    span: 10_000,
    duplicates: 40,
    lates: 15,
    value: (r) => Math.round((60 + r() * 40) * 10) / 10,
  });
  return events.map((e) => ({
    v: 1,
    id: `dev-${e.key}:${e.id}`,
    channel: `iot.readings.${e.key}`,
    ts: e.t + 1000,
    publisher: `dev-${e.key}`,
    data: { ts: e.t, temperature: e.value },
  }));
}

/** What route would publish, as (msgID, channel, data) with routedAt left out. */
function published(results: StepResult[]): string[] {
  return results.flatMap((r) =>
    r.outputs.map((o) => {
      const { routedAt: _r, ...env } = o.envelope;
      return JSON.stringify([o.msgID, o.channel, env]);
    })
  );
}

/** What EVENTS keeps: the first copy of each msgID, in order. */
function firstCopies(xs: string[]): string[] {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const id = JSON.parse(x)[0];
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

t.test("outputs as route publishes them", async (t) => {
  const p = new PartitionProcessor(0, iot());
  const env: Envelope = {
    v: 1,
    id: "dev-a:1",
    channel: "iot.readings.a",
    ts: 1_700_000_001_000,
    publisher: "dev-a",
    data: { ts: 1_700_000_000_000, temperature: 99 },
  };
  const first = await p.step(1, env, 42);
  t.equal(first.namespace, "iot-readings");
  t.same(first.outputs.map((o) => [o.kind, o.msgID, o.channel]), [
    ["event", "dev-a:1", "iot.readings.a"],
  ], "the reading itself goes on, under its own id");
  t.equal(first.outputs[0].envelope.routedAt, 42);
  const closing = await p.step(2, {
    ...env,
    id: "dev-a:2",
    data: { ts: 1_700_000_016_000, temperature: 10 },
  }, 43);
  const win = closing.outputs.find((o) => o.kind === "window")!;
  t.equal(win.msgID, "iot-readings/avg10s:a:1700000000000");
  t.equal(win.envelope.id, win.msgID, "a created event's id is its msgID");
  t.equal(win.envelope.publisher, PROCESSING_PUBLISHER);
  t.equal(win.envelope.ts, env.ts, "ts from the input that closed it: the same on a replay");
  t.same(win.envelope.data, {
    device: "a",
    windowStart: 1_700_000_000_000,
    windowEnd: 1_700_000_010_000,
    count: 1,
    avg: 99,
    min: 99,
    max: 99,
  });
  const alert = closing.outputs.find((o) => o.kind === "alert")!;
  t.equal(alert.channel, "alerts.iot.a");
  t.equal(alert.msgID, `iot-readings/hot@${win.msgID}`);
  for (const o of closing.outputs) {
    t.same(decodeEnvelope(encodeEnvelope(o.envelope)), o.envelope, `${o.kind} envelope is valid`);
  }
  t.same((await p.step(2, env, 44)).skipped, true, "a sequence taken already is skipped");
  const other = await p.step(3, { ...env, id: "x:1", channel: "chat.room" }, 45);
  t.same(other.namespace, undefined, "no rules: the event as v1 routes it");
  t.same(other.outputs.map((o) => o.msgID), ["x:1"]);
});

t.test("kill -9 anywhere: restore + replay from the checkpoint publishes the same", async (t) => {
  const input = envelopes(11);
  const whole = new PartitionProcessor(0, iot());
  const expected = published(await Promise.all(input.map((e, i) => whole.step(i + 1, e, 0))));
  t.ok(expected.some((e) => e.includes("alerts.iot.")), "alerts in the run");
  t.ok(expected.some((e) => e.includes("iot.late.")), "late readings in the run");

  for (const crashAt of [37, 250, 600]) {
    for (const checkpointAt of [0, 20, crashAt - 1]) {
      const before = new PartitionProcessor(0, iot(), new Map(), { everyEvents: 1 });
      const out: StepResult[] = [];
      let saved = new Map<string, ReturnType<typeof decodeSnapshot>>();
      for (let seq = 1; seq <= crashAt; seq++) {
        out.push(await before.step(seq, input[seq - 1], 0));
        before.settled(seq);
        if (seq === checkpointAt) {
          await before.takeCheckpoint(0);
          // Through bytes, as KV keeps them.
          saved = new Map(
            before.ready().map((r) => [r.namespace, decodeSnapshot(encodeSnapshot(r.snapshot))]),
          );
        }
      }
      // Restart: restore, replay INGEST from replayFrom (inputs it covers are skipped).
      const after = new PartitionProcessor(0, iot(), saved);
      t.equal(after.replayFrom, checkpointAt + 1, "replay starts after the checkpoint");
      const replayed: StepResult[] = [];
      for (let seq = after.replayFrom; seq <= input.length; seq++) {
        replayed.push(await after.step(seq, input[seq - 1], 0));
      }
      t.same(
        firstCopies([...published(out), ...published(replayed)]),
        firstCopies(expected),
        `crash at ${crashAt}, checkpoint at ${checkpointAt}`,
      );
      // Every re-published msgID carries the same bytes as the first time.
      const first = new Map(published(out).map((x) => [JSON.parse(x)[0], x]));
      const differ = published(replayed).filter((x) =>
        first.has(JSON.parse(x)[0]) && first.get(JSON.parse(x)[0]) !== x
      );
      t.same(differ, [], "re-emitted outputs are identical");
    }
  }
});

t.test("a checkpoint waits for its inputs' PubAcks", async (t) => {
  const p = new PartitionProcessor(0, iot(), new Map(), { everyEvents: 3, everyMs: 1000 });
  const input = envelopes(3);
  for (let seq = 1; seq <= 3; seq++) await p.step(seq, input[seq - 1], 0);
  t.ok(p.checkpointDue(0), "due after everyEvents");
  p.settled(1);
  p.settled(3);
  await p.takeCheckpoint(0);
  t.notOk(p.checkpointDue(0), "not due right after");
  t.same(p.ready(), [], "seq 2 is not PubAcked yet: nothing to save");
  await p.step(4, input[3], 0);
  p.settled(2);
  const r = p.ready();
  t.same(r.map((x) => [x.namespace, x.snapshot.position]), [["iot-readings", 3]]);
  t.same(p.ready(), [], "handed out once");
  t.ok(p.checkpointDue(1000), "due after everyMs with new events");
});

t.test("reload: unchanged namespaces keep their state, changed rules start empty", async (t) => {
  const doc = (size: string) => ({
    namespaces: [{
      name: "s",
      channels: "s.>",
      rules: [
        { name: "hot", alert: { value: "v", above: 1, key: "$tokens[1]", channel: "a.{key}" } },
        {
          name: "w",
          window: {
            type: "tumbling",
            size,
            lateness: "0s",
            key: "$tokens[1]",
            time: "t",
            aggregates: { n: "count()" },
            channel: "w.{key}",
            late: { policy: "route", channel: "late.{$tokens[1]}" },
          },
        },
      ],
    }],
  });
  const set = (size: string) => ProcessingSet.fromConfig(parseNamespaces(doc(size)));
  const p = new PartitionProcessor(0, set("10s"));
  const env = (seq: number, t: number, v: number): Envelope => ({
    v: 1,
    id: `p:${seq}`,
    channel: "s.k",
    ts: t,
    publisher: "p",
    data: { t, v },
  });
  t.equal(
    (await p.step(1, env(1, 1000, 5), 0)).outputs.filter((o) => o.kind === "alert").length,
    1,
  );
  t.same(await p.reload(set("10s")), [], "same rules: nothing dropped");
  t.same(await p.reload(set("20s")), ["s/w"], "the changed window starts empty");
  const r = await p.step(2, env(2, 30_000, 7), 0);
  t.same(r.outputs.filter((o) => o.kind === "alert"), [], "the alert kept its firing state");
  t.same(r.outputs.filter((o) => o.kind === "window"), [], "no window of the old size closes");
  t.throws(
    () =>
      ProcessingSet.fromConfig({
        ...parseNamespaces(doc("10s")),
        namespaces: [{
          ...parseNamespaces(doc("10s")).namespaces[0],
          rules: [{ name: "x" }] as never,
        }],
      }),
    ProcessingConfigError,
  );
});

import { Registry } from "prom-client";
import t from "tap";
import { createLogger } from "../log/mod.ts";
import { OutEvent } from "./event.ts";
import { notifyMetrics } from "./metrics.ts";
import { Delivery } from "./subscription-delivery.ts";
import { FakeSink } from "./subscription-fakes.ts";
import { CHANNEL, envelope, EPOCH } from "./subscription-stream-fakes.ts";

const fromStream = (seq: number, channel = CHANNEL) =>
  OutEvent.fromEnvelope(envelope(seq, channel), { epoch: EPOCH, seq }, {
    subject: `events.${channel}`,
    deliveryCount: 1,
  });
const fromStore = (seq: number) => OutEvent.fromEnvelope(envelope(seq), { epoch: EPOCH, seq });

const count = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
  (await c.get()).values[0]?.value ?? 0;

function delivery(pattern = CHANNEL, next = 5) {
  const sink = new FakeSink();
  const logs: string[] = [];
  const metrics = notifyMetrics(new Registry());
  const log = createLogger({}, { sink: (l) => logs.push(l) });
  return { d: new Delivery({ log, metrics }, pattern, "json", sink, next), sink, logs, metrics };
}

t.test("events from the stream go once, in one write, and move the cursor", async (t) => {
  const { d, sink, metrics } = delivery();
  t.equal(d.send([fromStream(4), fromStream(5), fromStream(7)]), "sent");
  t.same(sink.seqs, [5, 7], "one at or before the cursor is dropped");
  t.same(sink.writes, [2]);
  t.equal(d.next, 8);
  t.equal(d.send([fromStream(7)]), "sent", "nothing left to send");
  t.same(sink.writes, [2]);
  t.equal(await count(metrics.received), 2);
  t.equal(await count(metrics.delivered), 2);
});

t.test("rows from PostgreSQL go as they are and leave the stream's cursor alone", async (t) => {
  const { d, sink } = delivery();
  d.send([fromStore(3)]);
  t.same(sink.seqs, [3]);
  t.equal(d.next, 5);
});

t.test("a closed sink counts the events received but not delivered", async (t) => {
  const { d, sink, metrics } = delivery();
  sink.results.push("closed");
  t.equal(d.send([fromStream(5)]), "closed");
  t.equal(await count(metrics.received), 1);
  t.equal(await count(metrics.delivered), 0);
});

t.test("a wildcard subscription tags its frames with its pattern", async (t) => {
  const tagged: unknown[] = [];
  const { d, sink } = delivery("chat.*");
  sink.sendEncoded = (frames) => {
    tagged.push(...frames.map((f) => JSON.parse(f as string).sub));
    return "sent";
  };
  d.send([fromStream(5, "chat.a")]);
  t.same(tagged, ["chat.*"]);
});

t.test("an undecodable message is skipped, counted and logged", async (t) => {
  const { d, logs, metrics } = delivery();
  d.skip(5, { subject: `events.${CHANNEL}`, deliveryCount: 1 }, new Error("not msgpack"));
  t.equal(d.next, 6);
  t.equal(await count(metrics.received), 1);
  t.match(logs.join("\n"), /undecodable event skipped.*"seq":5/);
});

// The relay's guarantees, step by step, with the PubAcks held back by the
// test: the input is acked only after the output's PubAck; a channel's next
// event waits for the previous PubAck while other channels go on; the
// output's msgID is the event id, so a copy EVENTS already holds is acked
// without a second one.
import type { JetStreamClient } from "@nats-io/jetstream";
import t from "tap";
import { decodeEnvelope, INGEST_PREFIX, INGEST_STREAM } from "../../subjects/mod.ts";
import { envelope, eventMsg, FakePublisher, settle } from "../../test/fakes/jetstream.ts";
import { createLogger } from "../log/mod.ts";
import { createRegistry } from "../metrics/mod.ts";
import { routeMetrics } from "./metrics.ts";
import { defaultRoute, Relay } from "./relay.ts";

function relayWith(o: { autoPubAck: boolean }) {
  const log: string[] = [];
  const pub = new FakePublisher("EVENTS", o.autoPubAck, log);
  const registry = createRegistry("route");
  const relay = new Relay({
    js: {} as JetStreamClient,
    pub,
    log: createLogger({ svc: "route" }, { level: "error", sink: () => {} }),
    signal: new AbortController().signal,
    step: defaultRoute,
    maxAttempts: 3,
    metrics: routeMetrics(registry),
  });
  const input = (seq: number, clientId: string, channel: string, deliveryCount = 1) =>
    eventMsg(
      INGEST_STREAM,
      INGEST_PREFIX,
      seq,
      envelope("p", clientId, channel),
      log,
      deliveryCount,
    );
  const counter = async (name: string) =>
    (await registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
  return { log, pub, relay, input, counter };
}

t.test("the input is acked only after the output's PubAck", async (t) => {
  const { log, pub, relay, input } = relayWith({ autoPubAck: false });
  const m = input(7, "e1", "chat.a");
  relay.accept(m.msg);
  await settle();
  t.equal(pub.published.length, 1, "published to EVENTS");
  t.equal(pub.published[0].subject, "events.chat.a");
  t.equal(pub.published[0].msgID, "p:e1", "the output's msgID is the event id");
  t.equal(decodeEnvelope(pub.published[0].payload).id, "p:e1");
  t.equal(m.acks(), 0, "not acked while the PubAck is outstanding");
  pub.pubAck(0);
  await relay.idle();
  t.equal(m.acks(), 1, "acked once");
  t.same(log, ["publish p:e1", "pubAck p:e1", "ack 7"], "in this order");
});

t.test("a copy EVENTS already holds (its PubAck says duplicate) is acked and counted", async (t) => {
  const { pub, relay, input, counter } = relayWith({ autoPubAck: false });
  const late = input(9, "old", "c");
  const again = input(5, "old2", "c", 2);
  relay.accept(late.msg);
  relay.accept(again.msg);
  await settle();
  pub.pubAck(0, true);
  await settle();
  pub.pubAck(1, true);
  await relay.idle();
  t.equal(late.acks(), 1, "a late retry (another INGEST message) is acked");
  t.equal(again.acks(), 1, "a redelivery of a routed message is acked");
  t.equal(await counter("jetmesh_events_duplicate_total"), 2, "both counted as duplicates");
  t.equal(await counter("jetmesh_events_published_total"), 0, "neither as published");
});

t.test("a channel's next event waits for the previous PubAck; other channels do not", async (t) => {
  const { pub, relay, input } = relayWith({ autoPubAck: false });
  relay.accept(input(1, "a1", "chat.a").msg);
  relay.accept(input(2, "a2", "chat.a").msg);
  relay.accept(input(3, "b1", "chat.b").msg);
  await settle();
  t.same(
    pub.published.map((p) => p.msgID),
    ["p:a1", "p:b1"],
    "a2 waits behind a1; b1 goes",
  );
  pub.pubAck(0);
  await settle();
  t.same(pub.published.map((p) => p.msgID), ["p:a1", "p:b1", "p:a2"], "a2 after a1's PubAck");
  pub.pubAck(1);
  pub.pubAck(2);
  await relay.idle();
});

t.test("every event of a burst is published once, in order per channel, and acked once", async (t) => {
  const { pub, relay, input } = relayWith({ autoPubAck: true });
  const msgs = Array.from({ length: 30 }, (_, i) => input(i + 1, `e${i}`, `c${i % 3}`));
  for (const m of msgs) relay.accept(m.msg);
  await relay.idle();
  for (const c of ["c0", "c1", "c2"]) {
    t.same(
      pub.published.filter((p) => p.subject === `events.${c}`).map((p) => p.msgID),
      msgs.map((_, i) => i).filter((i) => i % 3 === Number(c[1])).map((i) => `p:e${i}`),
      `${c} in order`,
    );
  }
  t.ok(msgs.every((m) => m.acks() === 1), "each input acked once");
});

// The relay's guarantees, step by step, with the PubAcks and the routed
// marks held back by the test: the input is acked only after the output's
// PubAck and the mark; a channel's next event waits for the previous PubAck
// while other channels go on; the output's msgID is the event id; an id
// already routed is acked without being published again.
import type { JetStreamClient } from "@nats-io/jetstream";
import t from "tap";
import { decodeEnvelope, INGEST_PREFIX, INGEST_STREAM } from "../../subjects/mod.ts";
import {
  type Deferred,
  deferred,
  envelope,
  eventMsg,
  FakePublisher,
  settle,
} from "../../test/fakes/jetstream.ts";
import { createLogger } from "../log/mod.ts";
import { createRegistry } from "../metrics/mod.ts";
import { routeMetrics } from "./metrics.ts";
import { defaultRoute, Relay } from "./relay.ts";
import type { RoutedFrom, SeenIds } from "./seen.ts";

/** Seen ids in memory; `hold` makes the next marks wait for the test. */
class FakeSeen {
  readonly routedFrom = new Map<string, number>();
  readonly marks: Array<{ id: string; seq: number; done: Deferred<void> }> = [];
  hold = false;
  constructor(private readonly log: string[]) {}
  routed(id: string): Promise<RoutedFrom | undefined> {
    const seq = this.routedFrom.get(id);
    return Promise.resolve(seq === undefined ? undefined : { seq });
  }
  markRouted(id: string, seq: number): Promise<void> {
    const done = deferred<void>();
    this.marks.push({ id, seq, done });
    const recorded = done.promise.then(() => {
      this.routedFrom.set(id, seq);
      this.log.push(`mark ${id}`);
    });
    if (!this.hold) done.resolve();
    return recorded;
  }
}

function relayWith(o: { autoPubAck: boolean; seen?: boolean; markLingerMs?: number }) {
  const log: string[] = [];
  const pub = new FakePublisher("EVENTS", o.autoPubAck, log);
  const seen = new FakeSeen(log);
  const relay = new Relay({
    js: {} as JetStreamClient,
    pub,
    log: createLogger({ svc: "route" }, { level: "error", sink: () => {} }),
    signal: new AbortController().signal,
    step: defaultRoute,
    maxAttempts: 3,
    seen: o.seen === false ? undefined : (seen as unknown as SeenIds),
    metrics: routeMetrics(createRegistry("route")),
    markLingerMs: o.markLingerMs ?? 0,
    maxMarks: 3,
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
  return { log, pub, seen, relay, input };
}

t.test("the input is acked only after the output's PubAck and the routed mark", async (t) => {
  const { log, pub, seen, relay, input } = relayWith({ autoPubAck: false });
  seen.hold = true;
  const m = input(7, "e1", "chat.a");
  relay.accept(m.msg);
  await settle();
  t.equal(pub.published.length, 1, "published to EVENTS");
  t.equal(pub.published[0].subject, "events.chat.a");
  t.equal(pub.published[0].msgID, "p:e1", "the output's msgID is the event id");
  t.equal(decodeEnvelope(pub.published[0].payload).id, "p:e1");
  t.equal(m.acks(), 0, "not acked while the PubAck is outstanding");
  pub.pubAck(0);
  await settle();
  t.same(seen.marks.map((x) => [x.id, x.seq]), [["p:e1", 7]], "marked routed from seq 7");
  t.equal(m.acks(), 0, "not acked while the routed mark is outstanding");
  seen.marks[0].done.resolve();
  await relay.idle();
  t.equal(m.acks(), 1, "acked once");
  t.same(log, ["publish p:e1", "pubAck p:e1", "mark p:e1", "ack 7"], "in this order");
});

t.test("without seen ids, the ack still follows the PubAck", async (t) => {
  const { log, pub, relay, input } = relayWith({ autoPubAck: false, seen: false });
  const m = input(3, "e1", "c");
  relay.accept(m.msg);
  await settle();
  t.equal(m.acks(), 0);
  pub.pubAck(0);
  await relay.idle();
  t.same(log, ["publish p:e1", "pubAck p:e1", "ack 3"]);
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

t.test("an id already routed is acked without publishing: a late retry and a redelivery", async (t) => {
  const { pub, seen, relay, input } = relayWith({ autoPubAck: true });
  seen.routedFrom.set("p:old", 5);
  const late = input(9, "old", "c");
  const again = input(5, "old", "c", 2);
  relay.accept(late.msg);
  relay.accept(again.msg);
  await relay.idle();
  t.equal(pub.published.length, 0, "nothing published");
  t.equal(late.acks(), 1, "the late retry (another INGEST message) is acked");
  t.equal(again.acks(), 1, "the redelivery of the routed message is acked");
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

t.test("with a linger, marks wait for each other; each input is acked after its own mark", async (t) => {
  const { log, seen, relay, input } = relayWith({ autoPubAck: true, markLingerMs: 50 });
  const a = input(1, "a", "c0");
  const b = input(2, "b", "c1");
  relay.accept(a.msg);
  relay.accept(b.msg);
  await settle();
  t.equal(seen.marks.length, 0, "both PubAcks came; the marks wait for the linger");
  t.equal(a.acks() + b.acks(), 0, "nothing acked before its mark");
  await new Promise((r) => setTimeout(r, 60));
  t.same(seen.marks.map((x) => x.id), ["p:a", "p:b"], "sent together after the linger");
  await relay.idle();
  t.ok(log.indexOf("mark p:a") < log.indexOf("ack 1"), "a acked after its mark");
  t.ok(log.indexOf("mark p:b") < log.indexOf("ack 2"), "b acked after its mark");
  t.equal(a.acks() + b.acks(), 2, "each acked once");
});

t.test("a full batch of marks goes without waiting; idle() sends what waits", async (t) => {
  const { seen, relay, input } = relayWith({ autoPubAck: true, markLingerMs: 60_000 });
  const msgs = Array.from({ length: 4 }, (_, i) => input(i + 1, `e${i}`, `c${i}`));
  for (const m of msgs) relay.accept(m.msg);
  await settle();
  t.equal(seen.marks.length, 3, "three marks (maxMarks) went at once, one waits");
  await relay.idle();
  t.equal(seen.marks.length, 4, "idle() sent the last");
  t.ok(msgs.every((m) => m.acks() === 1), "each input acked once");
});

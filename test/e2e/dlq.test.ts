import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import postgres from "postgres";
import t from "tap";
import {
  DEFAULT_PARTITIONS,
  DLQ_STREAM,
  partitionOf,
  routeConsumerName,
} from "../../subjects/mod.ts";
import { openBus } from "../../internal/bus/mod.ts";
import { readReplayConfig, replayDlq } from "../../internal/dlq/mod.ts";
import { defaultRoute, type RouteStep } from "../../internal/route/relay.ts";
import { openStore } from "../../internal/store/mod.ts";
import { parseMetrics, valueOf } from "../../devkit/prometheus.ts";
import { type Stack, startStack, testLogger } from "../../devkit/in-process-stack.ts";
import type { ServiceName } from "../../devkit/catalog.ts";
import { deliveredThrough, isMarker, TestClient } from "../../devkit/test-client.ts";

const failOnPoison: RouteStep = (env, now) => {
  if ((env.data as { poison?: boolean } | null)?.poison) throw new Error("cannot route poison");
  return defaultRoute(env, now);
};

async function dlqMessages(stack: Stack) {
  const nc = await connect({ servers: stack.nats.url, ...stack.admin });
  try {
    const jsm = await jetstreamManager(nc);
    const si = await jsm.streams.info(DLQ_STREAM);
    const out = [];
    for (let seq = si.state.first_seq; seq <= si.state.last_seq && si.state.messages > 0; seq++) {
      const m = await jsm.streams.getMessage(DLQ_STREAM, { seq }).catch(() => null);
      if (m) {
        out.push({
          subject: m.subject,
          headers: Object.fromEntries([...m.header.keys()].map((k) => [k, m.header.get(k)])),
        });
      }
    }
    return out;
  } finally {
    await nc.close();
  }
}

async function metric(stack: Stack, svc: ServiceName, name: string): Promise<number | undefined> {
  return valueOf(parseMetrics(await (await fetch(`${stack.opsUrl(svc)}/metrics`)).text()), name);
}

async function replay(stack: Stack) {
  const cfg = readReplayConfig({ ...stack.env }, []);
  const log = testLogger("replay");
  const store = openStore(cfg.database, log);
  const bus = await openBus(cfg.common.nats, "test-replay", [DLQ_STREAM], log);
  try {
    return await replayDlq({ js: bus.js, jsm: bus.jsm, store, log });
  } finally {
    await bus.nc.close();
    await store.close();
  }
}

async function rows(sql: postgres.Sql, schema: string, want: number): Promise<string[]> {
  let ids: string[] = [];
  for (let i = 0; i < 150; i++) {
    ids = (await sql`select event_id from ${sql(schema)}.events order by epoch, seq`).map((r) =>
      r.event_id
    );
    if (ids.length >= want) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return ids;
}

t.test("an event the route step keeps failing on goes to DLQ without blocking its channel, and replays once fixed", async (t) => {
  const stack = await startStack({}, { routeStep: failOnPoison });
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());
  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "q" });
  await sub.next((f) => f.op === "subscribed");
  const pub = await TestClient.open(`${stack.ingestWs}?publisher=p`);
  t.teardown(() => pub.close());
  pub.sendJson({ op: "pub", id: "e1", channel: "q", data: 1 });
  pub.sendJson({ op: "pub", id: "bad", channel: "q", data: { poison: true } });
  pub.sendJson({ op: "pub", id: "e2", channel: "q", data: 2 });
  await pub.until((fs) => fs.length >= 3, 10_000, "acks");
  t.equal(pub.ofOp("ack").length, 3, "the poison event was accepted like any other");

  await sub.until((fs) => fs.filter((f) => f.op === "event").length >= 2, 15_000, "events");
  t.same(
    sub.ofOp("event").map((f) => f.id),
    ["p:e1", "p:e2"],
    "the channel went on past the poison event, in order",
  );
  const parked = await dlqMessages(stack);
  t.equal(parked.length, 1, "one event in DLQ");
  t.equal(parked[0].subject, "dlq.route.q");
  t.match(parked[0].headers, {
    "Jetmesh-Dlq-Reason": /route step failed: cannot route poison/,
    "Jetmesh-Dlq-Stream": "INGEST",
    "Jetmesh-Dlq-Seq": "2",
    "Jetmesh-Dlq-Deliveries": "3",
    "Jetmesh-Original-Msg-Id": "p:bad",
  }, "reason, source stream and sequence, and delivery count in headers");
  t.equal(
    await metric(stack, "route", "jetmesh_events_dlq_total"),
    1,
    "route counts the parked event",
  );

  // The cause is fixed: route runs with the real step again.
  await stack.stopService("route");
  await stack.startService("route", {});
  const first = await replay(stack);
  t.same(first, { replayed: 1, failed: 0 });
  await sub.until(
    (fs) => fs.filter((f) => f.op === "event").length >= 3,
    15_000,
    "the replayed event",
  );
  t.same(sub.ofOp("event").map((f) => f.id), ["p:e1", "p:e2", "p:bad"]);
  t.same(await rows(sql, stack.db.schema, 3), ["p:e1", "p:e2", "p:bad"], "stored once each");
  t.equal((await dlqMessages(stack)).length, 0, "DLQ is empty after the replay");
  t.same(await replay(stack), { replayed: 0, failed: 0 }, "a second replay finds nothing");
  await deliveredThrough((f) => pub.sendJson(f), sub, "q");
  t.equal(sub.events().length, 3, "nothing delivered twice");
});

t.test("a row the database rejects goes to DLQ, the rest of its batch is stored, and it replays once fixed", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());
  await rows(sql, stack.db.schema, 0);
  await sql`alter table ${
    sql(stack.db.schema)
  }.events add constraint no_poison check (publisher <> 'poison')`;
  const res = await fetch(`${stack.ingestHttp}/v1/publish?publisher=poison`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "x", channel: "r", data: 0 }),
  });
  t.equal(res.status, 200);
  const good = await fetch(`${stack.ingestHttp}/v1/publish?publisher=good`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(
      Array.from({ length: 20 }, (_, i) => ({ id: `g${i}`, channel: "r", data: i })),
    ),
  });
  t.equal(good.status, 200);
  const stored = await rows(sql, stack.db.schema, 20);
  t.equal(stored.length, 20, "every other event is stored");
  t.notOk(stored.includes("poison:x"));
  let parked = await dlqMessages(stack);
  for (let i = 0; i < 50 && parked.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    parked = await dlqMessages(stack);
  }
  t.equal(parked.length, 1);
  t.match(parked[0], {
    subject: "dlq.persist.r",
    headers: { "Jetmesh-Dlq-Reason": /no_poison/, "Jetmesh-Dlq-Stream": "EVENTS" },
  });
  t.equal(
    await metric(stack, "persist", "jetmesh_events_dlq_total"),
    1,
    "persist counts the parked row",
  );
  t.ok(
    (await metric(stack, "persist", "jetmesh_db_errors_total"))! >= 1,
    "and the rejected inserts",
  );

  await sql`alter table ${sql(stack.db.schema)}.events drop constraint no_poison`;
  t.same(await replay(stack), { replayed: 1, failed: 0 });
  const after = await rows(sql, stack.db.schema, 21);
  t.equal(after.length, 21);
  t.equal(after.filter((id) => id === "poison:x").length, 1, "stored once");
  t.equal((await dlqMessages(stack)).length, 0);
});

t.test("a retry after the duplicate windows passed is still stored once and shown once", async (t) => {
  const stack = await startStack({ INGEST_DUPLICATE_WINDOW: "1s" });
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());
  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "w" });
  await sub.next((f) => f.op === "subscribed");
  const pub = await TestClient.open(`${stack.ingestWs}?publisher=p`);
  t.teardown(() => pub.close());
  pub.sendJson({ op: "pub", id: "late", channel: "w", data: 1 });
  const first = await pub.next((f) => f.op === "ack");
  await sub.next((f) => f.op === "event");
  await new Promise((r) => setTimeout(r, 2500));
  pub.sendJson({ op: "pub", id: "late", channel: "w", data: 1 });
  pub.sendJson({ op: "pub", id: "next", channel: "w", data: 2 });
  await pub.until((fs) => fs.length >= 3, 10_000, "acks");
  const second = pub.frames[1];
  t.equal(second.dup, false, "JetStream no longer knows the id: a new INGEST message");
  t.not(second.seq, first.seq);
  await sub.until((fs) => fs.filter((f) => f.op === "event").length >= 2, 10_000, "the next event");
  await deliveredThrough((f) => pub.sendJson(f), sub, "w");
  t.same(sub.events().map((f) => f.id), ["p:late", "p:next"], "shown once");
  t.same(
    (await rows(sql, stack.db.schema, 3)).filter((id) => !isMarker(id)),
    ["p:late", "p:next"],
    "stored once",
  );
  t.equal(
    await metric(stack, "route", "jetmesh_events_duplicate_total"),
    1,
    "EVENTS dropped the late retry by its msgID: route counts it as a duplicate",
  );
});

t.test("INGEST messages delivered again after the duplicate windows (route's durable lost its acks) are not routed again", async (t) => {
  const stack = await startStack({ INGEST_DUPLICATE_WINDOW: "1s" });
  t.teardown(stack.stop);
  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "again" });
  await sub.next((f) => f.op === "subscribed");
  const pub = await TestClient.open(`${stack.ingestWs}?publisher=p`);
  t.teardown(() => pub.close());
  for (const id of ["a", "b", "c"]) pub.sendJson({ op: "pub", id, channel: "again", data: id });
  await sub.until((fs) => fs.filter((f) => f.op === "event").length >= 3, 10_000, "3 events");
  await new Promise((r) => setTimeout(r, 1500));

  // What nats-server (2.9.10 and 2.15.3 alike) does after kill -9: the durable comes back
  // without the acks it had not written.
  await stack.stopService("route");
  const nc = await connect({ servers: stack.nats.url, ...stack.admin });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const durable = routeConsumerName(partitionOf("again", DEFAULT_PARTITIONS));
  await jsm.consumers.delete("INGEST", durable);
  await stack.startService("route");
  pub.sendJson({ op: "pub", id: "next", channel: "again", data: "next" });
  await sub.until((fs) => fs.filter((f) => f.op === "event").length >= 4, 10_000, "the next event");
  await deliveredThrough((f) => pub.sendJson(f), sub, "again");
  t.same(sub.events().map((f) => f.id), ["p:a", "p:b", "p:c", "p:next"], "each shown once");
  t.equal(
    (await jsm.streams.info("EVENTS")).state.messages,
    5,
    "EVENTS holds each once, and the marker",
  );
  t.equal(
    await metric(stack, "route", "jetmesh_events_duplicate_total"),
    3,
    "EVENTS dropped the three redeliveries by their msgIDs",
  );
  // An input's ack follows its PubAck, after the delivery the subscriber saw: give the last
  // ones a moment.
  const left = async () => {
    const info = await jsm.consumers.info("INGEST", durable);
    return info.num_ack_pending + info.num_pending;
  };
  for (const since = Date.now(); (await left()) > 0 && Date.now() - since < 5000;) {
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(await left(), 0, "and its consumer has nothing left");
});

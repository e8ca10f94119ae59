// nats-server started with the shipped single.conf (and so users.conf): each
// service runs with its own NATS user and the whole pipeline works, including
// DLQ, readiness and lag metrics; then each user is refused what its service
// does not need.
import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import postgres from "postgres";
import { inboxPrefix } from "../../internal/bus/mod.ts";
import { readReplayConfig, replayDlq } from "../../internal/dlq/mod.ts";
import { openBus } from "../../internal/bus/mod.ts";
import { defaultRoute, type RouteStep } from "../../internal/route/relay.ts";
import { startIngest } from "../../internal/ingest/app.ts";
import { readIngestConfig } from "../../internal/ingest/config.ts";
import { openStore } from "../../internal/store/mod.ts";
import { TestClient } from "../../test/e2e/client.ts";
import { type ServiceName, startStack, testLogger } from "../../test/e2e/stack.ts";
import { type NatsUser, setNatsPasswords, templateConfig } from "../../test/helpers/nats-config.ts";
import { type NatsServerHandle, startNatsServer } from "../../test/helpers/nats-server.ts";
import { freePorts } from "../../test/helpers/ports.ts";
import { parseMetrics, valueOf } from "../../test/helpers/prometheus.ts";

const passwords = setNatsPasswords();
const SERVICES: ServiceName[] = ["ingest", "route", "persist", "notify"];

async function startConfiguredServer(teardown: (fn: () => unknown) => void): Promise<NatsServerHandle> {
  const dir = mkdtempSync(join(tmpdir(), "jm-perm-"));
  teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [p, m] = await freePorts(2);
  const conf = templateConfig("single.conf", dir, join(dir, "store"), new Map([[4222, p], [8222, m]]));
  const ns = await startNatsServer({ jetstream: false, port: p, monitorPort: m, args: ["-c", conf] });
  teardown(() => ns.stop());
  return ns;
}

/** Connects as a user the way the services do (its own inbox prefix). */
function connectAs(ns: NatsServerHandle, user: NatsUser): Promise<NatsConnection> {
  return connect({ servers: ns.url, user, pass: passwords[user], inboxPrefix: inboxPrefix(user) });
}

const failOnPoison: RouteStep = (env, now) => {
  if ((env.data as { poison?: boolean } | null)?.poison) throw new Error("cannot route poison");
  return defaultRoute(env, now);
};

t.test("every service works with its own user", async (t) => {
  const ns = await startConfiguredServer((fn) => t.teardown(fn));
  const serviceEnv = Object.fromEntries(SERVICES.map((s) => [s, { NATS_USER: s, NATS_PASSWORD: passwords[s] }]));
  const stack = await startStack({ ROUTE_MAX_ATTEMPTS: "1" }, { nats: ns, serviceEnv, routeStep: failOnPoison });
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());
  // persist will refuse this publisher's rows, to exercise its DLQ path too.
  await sql`alter table ${sql(stack.db.schema)}.events add constraint no_poison check (publisher <> 'poison')`;

  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "perm.>" });
  await sub.next((f) => f.op === "subscribed");
  // Presence lives in notify's KV bucket: joining writes it, the query reads notify's watch of it.
  sub.sendJson({ op: "join", channel: "perm.x", member: "alice" });
  await sub.next((f) => f.op === "joined");
  sub.sendJson({ op: "presence", channel: "perm.x" });
  t.same((await sub.next((f) => f.op === "presence")).members, ["alice"], "notify may keep presence");
  const pub = await TestClient.open(`${stack.ingestWs}?publisher=p`);
  t.teardown(() => pub.close());
  pub.sendJson({ op: "pub", id: "a", channel: "perm.x", data: 1 });
  pub.sendJson({ op: "pub", id: "bad", channel: "perm.x", data: { poison: true } });
  pub.sendJson({ op: "pub", id: "b", channel: "perm.y", data: 2 });
  await pub.until((fs) => fs.filter((f) => f.op === "ack").length === 3, 15_000, "3 acks");
  const res = await fetch(`${stack.ingestHttp}/v1/publish?publisher=poison`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "row", channel: "perm.z", data: 3 }),
  });
  t.equal(res.status, 200, "HTTP publish too");
  await sub.until((fs) => fs.filter((f) => f.op === "event").length === 3, 15_000, "3 events");
  t.same(sub.ofOp("event").map((f) => f.id).sort(), ["p:a", "p:b", "poison:row"], "routed and delivered (the route poison parked)");

  const metric = async (svc: ServiceName, name: string, labels: Record<string, string> = {}) =>
    valueOf(parseMetrics(await (await fetch(`${stack.serviceUrl(svc)}/metrics`)).text()), name, labels);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && (await metric("persist", "jetmesh_events_dlq_total")) !== 1) await new Promise((r) => setTimeout(r, 100));
  t.equal(await metric("route", "jetmesh_events_dlq_total"), 1, "route parked its poison event on dlq.route.>");
  t.equal(await metric("persist", "jetmesh_events_dlq_total"), 1, "persist parked the refused row on dlq.persist.>");
  const stored = await sql`select event_id from ${sql(stack.db.schema)}.events order by event_id`;
  t.same(stored.map((r) => r.event_id), ["p:a", "p:b"], "persist stored the rest");

  for (const svc of SERVICES) {
    const r = await fetch(`${stack.serviceUrl(svc)}/readyz`);
    t.equal(r.status, 200, `${svc}: /readyz reads the streams it needs (${JSON.stringify((await r.json()).checks)})`);
  }
  t.equal(await metric("route", "jetmesh_consumer_num_pending", { consumer: "route" }), 0, "route reads its consumer's info");
  t.equal(await metric("persist", "jetmesh_consumer_num_pending", { consumer: "persist" }), 0, "persist reads its consumer's info");
  t.equal(await metric("route", "jetmesh_stream_messages", { stream: "DLQ" }), 2, "route reads the DLQ stream's info");

  // Operators' tools use the admin user.
  await sql`alter table ${sql(stack.db.schema)}.events drop constraint no_poison`;
  const cfg = readReplayConfig({ ...stack.env, NATS_USER: "admin", NATS_PASSWORD: passwords.admin }, ["--service", "persist"]);
  const log = testLogger("replay");
  const bus = await openBus(cfg.common.nats, "admin", ["DLQ"], log);
  const store = openStore(cfg.database, log);
  t.same(await replayDlq({ js: bus.js, jsm: bus.jsm, store, log, service: "persist" }), { replayed: 1, failed: 0 }, "replay-dlq as admin");
  await bus.nc.close();
  await store.close();

  t.notMatch(ns.logTail(), /Permissions Violation/, "nats-server refused nothing the services did");
});

t.test("each user is refused what its service does not need", async (t) => {
  const ns = await startConfiguredServer((fn) => t.teardown(fn));
  // Streams and durables as the services create them.
  const admin = await connectAs(ns, "admin");
  t.teardown(() => admin.close());
  const jsm = await jetstreamManager(admin);
  for (const [name, subject] of [["INGEST", "ingest.>"], ["EVENTS", "events.>"], ["DLQ", "dlq.>"]]) {
    await jsm.streams.add({ name, subjects: [subject] });
  }
  await jsm.consumers.add("INGEST", { durable_name: "route" });
  await jsm.consumers.add("EVENTS", { durable_name: "persist" });

  const denied = async (user: NatsUser, what: string, attempt: (nc: NatsConnection) => Promise<unknown>) => {
    const nc = await connectAs(ns, user);
    try {
      const err = await attempt(nc).then(() => undefined, (e: unknown) => e);
      t.match(String(err), /Permissions Violation|permission/i, `${user} may not ${what}`);
    } finally {
      await nc.close();
    }
  };
  const subscribe = async (nc: NatsConnection, subject: string) => {
    const err = await nc.subscribe(subject).closed;
    if (err) throw err;
  };

  await denied("ingest", "publish to EVENTS (skipping route)", (nc) => jetstream(nc).publish("events.x", "e"));
  await denied("ingest", "delete a stream", async (nc) => (await jetstreamManager(nc)).streams.delete("EVENTS"));
  await denied("ingest", "read another service's inbox", (nc) => subscribe(nc, "_INBOX.route.>"));
  await denied("route", "publish to INGEST", (nc) => jetstream(nc).publish("ingest.x", "e"));
  await denied("route", "park events as persist", (nc) => jetstream(nc).publish("dlq.persist.x", "e"));
  await denied("route", "pull from persist's durable", async (nc) => (await jetstream(nc).consumers.get("EVENTS", "persist")).next());
  await denied("persist", "publish to EVENTS", (nc) => jetstream(nc).publish("events.x", "e"));
  await denied("persist", "pull from route's durable", async (nc) => (await jetstream(nc).consumers.get("INGEST", "route")).next());
  await denied("persist", "subscribe to events directly", (nc) => subscribe(nc, "events.>"));
  await denied("notify", "publish to EVENTS", (nc) => jetstream(nc).publish("events.x", "e"));
  await denied("notify", "pull from persist's durable", async (nc) => (await jetstream(nc).consumers.get("EVENTS", "persist")).next());
  await denied("notify", "replace persist's durable", async (nc) => (await jetstreamManager(nc)).consumers.add("EVENTS", { durable_name: "persist" }));
  await denied("notify", "create consumers on INGEST", async (nc) => (await jetstreamManager(nc)).consumers.add("INGEST", { name: "peek" }));
  await denied("notify", "ack for persist", async (nc) => {
    nc.publish("$JS.ACK.EVENTS.persist.1.1.1.1.1", "+ACK");
    const status = nc.status()[Symbol.asyncIterator]();
    await nc.flush();
    for (;;) {
      const s = (await status.next()).value;
      if (s?.type === "error") throw s.error;
    }
  });

  for (const [who, opts] of [["no credentials", {}], ["a wrong password", { user: "route", pass: "guess" }]] as const) {
    const err = await connect({ servers: ns.url, ...opts }).then((nc) => nc.close().then(() => undefined), (e: unknown) => e);
    t.match(String(err), /Authorization Violation|authentication/i, `${who}: refused`);
  }
});

t.test("NATS_TOKEN: a service connects to a server that wants a token, and fails fast without it", async (t) => {
  const token = crypto.randomUUID();
  const ns = await startNatsServer({ args: ["--auth", token] });
  t.teardown(() => ns.stop());
  const log = testLogger("ingest");
  const ingest = await startIngest(readIngestConfig({ NATS_URL: ns.url, NATS_TOKEN: token, INGEST_HOST: "127.0.0.1", INGEST_PORT: "0" }), log);
  t.teardown(() => ingest.stop());
  const ready = await fetch(`http://127.0.0.1:${ingest.port}/readyz`);
  t.equal(ready.status, 200, "ready with the token");
  const err = await startIngest(readIngestConfig({ NATS_URL: ns.url, NATS_TOKEN: "wrong", INGEST_PORT: "0" }), log).then(
    (svc) => svc.stop().then(() => undefined),
    (e: unknown) => e,
  );
  t.match(String(err), /Authorization Violation|authentication/i, "a wrong token is refused at start");
});


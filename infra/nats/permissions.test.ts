// nats-server started with the shipped single.conf (and so users.conf): the
// migration runs as admin, each service runs with its own NATS user and the
// whole pipeline works, including DLQ, readiness and lag metrics; then each
// user is refused what its service does not need — above all any change to a
// stream — and nothing on the server changed.
import t from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import postgres from "postgres";
import { ensureConsumer, inboxPrefix, openBucket, openBus } from "../../internal/bus/mod.ts";
import { CheckpointStore, type EngineSnapshot } from "../../internal/processing/mod.ts";
import { replayPartition } from "../../internal/route/replay.ts";
import { readReplayConfig, replayDlq } from "../../internal/dlq/mod.ts";
import { defaultRoute, type RouteStep } from "../../internal/route/relay.ts";
import { startIngest } from "../../internal/ingest/app.ts";
import { readIngestConfig } from "../../internal/ingest/config.ts";
import { openStore } from "../../internal/store/mod.ts";
import { TestClient } from "../../devkit/test-client.ts";
import { startStack, testLogger } from "../../devkit/in-process-stack.ts";
import { type NatsUser, SERVICE_NAMES, type ServiceName } from "../../devkit/catalog.ts";
import { setNatsPasswords, templateConfig } from "../../devkit/nats-config.ts";
import { type NatsServerHandle, startNatsServer } from "../../devkit/nats-server.ts";
import { migrateAsAdmin } from "../../devkit/nats-users.ts";
import { freePorts } from "../../devkit/ports.ts";
import { parseMetrics, valueOf } from "../../devkit/prometheus.ts";
import {
  CHECKPOINT_BUCKET,
  persistConsumer,
  PRESENCE_BUCKET,
  routeConsumer,
  SEEN_BUCKET,
} from "../../subjects/mod.ts";
import {
  ALL_STREAMS,
  publishRefusal,
  requestRefusal,
  snapshot,
  streamChanges,
  subscribeRefusal,
} from "./refusals.ts";

const passwords = setNatsPasswords();

async function startConfiguredServer(
  teardown: (fn: () => unknown) => void,
): Promise<NatsServerHandle> {
  const dir = mkdtempSync(join(tmpdir(), "jm-perm-"));
  teardown(() => rmSync(dir, { recursive: true, force: true }));
  const [p, m] = await freePorts(2);
  const conf = templateConfig(
    "single.conf",
    dir,
    join(dir, "store"),
    new Map([[4222, p], [8222, m]]),
  );
  const ns = await startNatsServer({
    jetstream: false,
    port: p,
    monitorPort: m,
    args: ["-c", conf],
  });
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
  const serviceEnv = Object.fromEntries(
    SERVICE_NAMES.map((s) => [s, { NATS_USER: s, NATS_PASSWORD: passwords[s] }]),
  );
  // startStack runs the migration as admin, then each service as its own user.
  const admin = { user: "admin", pass: passwords.admin };
  const stack = await startStack({ ROUTE_MAX_ATTEMPTS: "1" }, {
    nats: ns,
    admin,
    serviceEnv,
    routeStep: failOnPoison,
  });
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());
  // persist will refuse this publisher's rows, to exercise its DLQ path too.
  await sql`alter table ${
    sql(stack.db.schema)
  }.events add constraint no_poison check (publisher <> 'poison')`;

  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "perm.>" });
  await sub.next((f) => f.op === "subscribed");
  // Presence lives in notify's KV bucket: joining writes it, the query reads notify's watch of it.
  sub.sendJson({ op: "join", channel: "perm.x", member: "alice" });
  await sub.next((f) => f.op === "joined");
  sub.sendJson({ op: "presence", channel: "perm.x" });
  t.same(
    (await sub.next((f) => f.op === "presence")).members,
    ["alice"],
    "notify may keep presence",
  );
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
  t.same(
    sub.ofOp("event").map((f) => f.id).sort(),
    ["p:a", "p:b", "poison:row"],
    "routed and delivered (the route poison parked)",
  );

  const metric = async (svc: ServiceName, name: string, labels: Record<string, string> = {}) =>
    valueOf(parseMetrics(await (await fetch(`${stack.opsUrl(svc)}/metrics`)).text()), name, labels);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && (await metric("persist", "jetmesh_events_dlq_total")) !== 1) {
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(
    await metric("route", "jetmesh_events_dlq_total"),
    1,
    "route parked its poison event on dlq.route.>",
  );
  t.equal(
    await metric("persist", "jetmesh_events_dlq_total"),
    1,
    "persist parked the refused row on dlq.persist.>",
  );
  const stored = await sql`select event_id from ${sql(stack.db.schema)}.events order by event_id`;
  t.same(stored.map((r) => r.event_id), ["p:a", "p:b"], "persist stored the rest");

  for (const svc of SERVICE_NAMES) {
    const r = await fetch(`${stack.opsUrl(svc)}/readyz`);
    t.equal(
      r.status,
      200,
      `${svc}: /readyz reads the streams it needs (${JSON.stringify((await r.json()).checks)})`,
    );
  }
  t.equal(
    await metric("route", "jetmesh_consumer_num_pending", { consumer: "route-0" }),
    0,
    "route reads its consumer's info",
  );
  t.equal(
    await metric("persist", "jetmesh_consumer_num_pending", { consumer: "persist" }),
    0,
    "persist reads its consumer's info",
  );
  t.equal(
    await metric("route", "jetmesh_stream_messages", { stream: "DLQ" }),
    2,
    "route reads the DLQ stream's info",
  );

  // Operators' tools use the admin user.
  await sql`alter table ${sql(stack.db.schema)}.events drop constraint no_poison`;
  const cfg = readReplayConfig(
    { ...stack.env, NATS_USER: "admin", NATS_PASSWORD: passwords.admin },
    ["--service", "persist"],
  );
  const log = testLogger("replay");
  const bus = await openBus(cfg.common.nats, "admin", ["DLQ"], log);
  const store = openStore(cfg.database, log);
  t.same(await replayDlq({ js: bus.js, jsm: bus.jsm, store, log, service: "persist" }), {
    replayed: 1,
    failed: 0,
  }, "replay-dlq as admin");
  await bus.nc.close();
  await store.close();

  t.notMatch(ns.logTail(), /Permissions Violation/, "nats-server refused nothing the services did");
});

t.test("a service started before the migration stops with a clear error, and cannot create the stream itself", async (t) => {
  const ns = await startConfiguredServer((fn) => t.teardown(fn));
  const env = {
    NATS_URL: ns.url,
    NATS_USER: "ingest",
    NATS_PASSWORD: passwords.ingest,
    INGEST_HOST: "127.0.0.1",
    INGEST_PORT: "0",
    INGEST_OPS_PORT: "0",
    JETMESH_AUTH: "none",
  };
  const err = await startIngest(readIngestConfig(env), testLogger("ingest")).then(
    (svc) => svc.stop().then(() => undefined),
    (e: unknown) => e,
  );
  t.match(err, {
    code: "not_migrated",
    message:
      /stream INGEST does not exist: run the migration as the NATS admin user first \(make migrate/,
  });
  const nc = await connectAs(ns, "ingest");
  t.teardown(() => nc.close());
  t.match(
    String(
      await requestRefusal(nc, "$JS.API.STREAM.CREATE.INGEST", {
        name: "INGEST",
        subjects: ["ingest.>"],
      }),
    ),
    /Permissions Violation/,
  );
});

t.test("each user is refused what its service does not need, and nothing changes", async (t) => {
  const ns = await startConfiguredServer((fn) => t.teardown(fn));
  const admin = await connectAs(ns, "admin");
  t.teardown(() => admin.close());
  const jsm = await jetstreamManager(admin);
  await migrateAsAdmin([ns.url], {}, { user: "admin", pass: passwords.admin });
  // route and persist create their own durables, as at start-up, each with its own user.
  const log = testLogger("perm");
  const settings = { ackWaitMs: 30_000, maxAckPending: 100 };
  for (
    const [user, durable] of [["route", routeConsumer(0, { ...settings, pinTimeoutMs: 35_000 })], [
      "persist",
      persistConsumer(settings),
    ]] as const
  ) {
    const nc = await connectAs(ns, user);
    await ensureConsumer(await jetstreamManager(nc), durable, log);
    await nc.close();
  }
  // route keeps processing checkpoints as its own user: a large one in chunks (written, read,
  // the replaced ones purged, the keys listed), and replays a partition with message gets.
  {
    const nc = await connectAs(ns, "route");
    const { kv } = await openBucket(jetstream(nc), CHECKPOINT_BUCKET, "route");
    const store = new CheckpointStore(nc, kv, { maxPayload: 8192 });
    const snap = (position: number, filler: number): EngineSnapshot => ({
      v: 1,
      namespace: "perm",
      position,
      windows: { w: { fingerprint: "x".repeat(filler) } as never },
      alerts: {},
    });
    const first = store.partition("perm", 0);
    await first.load();
    await first.save(snap(1, 20_000));
    await first.save(snap(2, 30_000));
    t.same((await store.partition("perm", 0).load()).snapshot, snap(2, 30_000), "route: KV");
    await jetstream(admin).publish("ingest.0.perm.x", "v");
    const seqs: number[] = [];
    await replayPartition(await jetstreamManager(nc), 0, 1, 1000, async (m) => {
      seqs.push(m.seq);
    });
    t.equal(seqs.length, 1, "route: replay reads its partition");
    await nc.close();
  }
  // Something in every stream, so a purge or a shrink would show.
  const js = jetstream(admin);
  for (
    const subject of [
      "ingest.x",
      "events.x",
      "dlq.route.x",
      `$KV.${SEEN_BUCKET}.k`,
      `$KV.${PRESENCE_BUCKET}.k`,
      `$KV.${CHECKPOINT_BUCKET}.k`,
    ]
  ) await js.publish(subject, "v");
  const before = await snapshot(jsm);
  t.equal(
    Object.keys(before.consumers).sort().join(),
    "EVENTS/persist,INGEST/route-0",
    "the two durables",
  );

  const conns = new Map<NatsUser, NatsConnection>();
  for (const u of SERVICE_NAMES) conns.set(u, await connectAs(ns, u));
  t.teardown(() => Promise.all([...conns.values()].map((nc) => nc.close())));
  const refused = async (
    user: NatsUser,
    what: string,
    attempt: (nc: NatsConnection) => Promise<unknown>,
  ) => {
    const err = await attempt(conns.get(user)!).then((v) => v, (e: unknown) => e);
    t.match(String(err), /Permissions Violation/, `${user} may not ${what}`);
  };

  // The example: the internet-facing ingest shrinking EVENTS to one message.
  await refused(
    "ingest",
    "shrink EVENTS to one message",
    (nc) =>
      requestRefusal(nc, "$JS.API.STREAM.UPDATE.EVENTS", {
        ...before.streams.EVENTS.config as object,
        max_msgs: 1,
      }),
  );
  t.equal(
    (await jsm.streams.info("EVENTS")).config.max_msgs,
    -1,
    "EVENTS still keeps any number of messages",
  );

  // No service user may touch any stream's (or bucket's) config or contents through the API.
  for (const user of SERVICE_NAMES) {
    for (const stream of ALL_STREAMS) {
      for (
        const [what, subject, body] of streamChanges(
          stream,
          before.streams[stream].config as Record<string, unknown>,
        )
      ) {
        await refused(user, `${what} ${stream}`, (nc) => requestRefusal(nc, subject, body));
      }
    }
    await refused(
      user,
      "create a stream of its own",
      (nc) =>
        requestRefusal(nc, "$JS.API.STREAM.CREATE.MINE", { name: "MINE", subjects: ["mine.>"] }),
    );
    for (const other of SERVICE_NAMES.filter((o) => o !== user)) {
      await refused(
        user,
        `read ${other}'s inbox`,
        (nc) => subscribeRefusal(nc, `_INBOX.${other}.>`),
      );
    }
  }

  // Other services' subjects and durables.
  const pull = (stream: string, durable: string) => (nc: NatsConnection) =>
    requestRefusal(nc, `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`, { batch: 1 });
  const replace =
    (c: typeof before.consumers[string], stream: string, name: string) => (nc: NatsConnection) =>
      requestRefusal(
        nc,
        `$JS.API.CONSUMER.CREATE.${stream}.${name}.${stream === "INGEST" ? "ingest" : "events"}.>`,
        { stream_name: stream, config: { ...c.config as object, max_ack_pending: 1 } },
      );
  await refused(
    "ingest",
    "publish to EVENTS (skipping route)",
    (nc) => requestRefusal(nc, "events.x", "e"),
  );
  await refused("ingest", "park events on DLQ", (nc) => requestRefusal(nc, "dlq.route.x", "e"));
  await refused(
    "ingest",
    "write route's KV bucket",
    (nc) => requestRefusal(nc, `$KV.${SEEN_BUCKET}.k`, "v"),
  );
  await refused("route", "publish to INGEST", (nc) => requestRefusal(nc, "ingest.x", "e"));
  await refused(
    "route",
    "park events as persist",
    (nc) => requestRefusal(nc, "dlq.persist.x", "e"),
  );
  await refused("route", "pull from persist's durable", pull("EVENTS", "persist"));
  await refused(
    "route",
    "replace persist's durable",
    replace(before.consumers["EVENTS/persist"], "EVENTS", "persist"),
  );
  await refused(
    "route",
    "delete its own durable",
    (nc) => requestRefusal(nc, "$JS.API.CONSUMER.DELETE.INGEST.route-0", undefined),
  );
  await refused(
    "route",
    "write notify's presence",
    (nc) => requestRefusal(nc, `$KV.${PRESENCE_BUCKET}.k`, "v"),
  );
  for (const user of ["ingest", "persist", "notify"] as const) {
    await refused(
      user,
      "write route's processing checkpoints",
      (nc) => requestRefusal(nc, `$KV.${CHECKPOINT_BUCKET}.k`, "v"),
    );
    await refused(
      user,
      "read route's processing checkpoints",
      (nc) =>
        requestRefusal(
          nc,
          `$JS.API.DIRECT.GET.KV_${CHECKPOINT_BUCKET}.$KV.${CHECKPOINT_BUCKET}.k`,
          undefined,
        ),
    );
  }
  await refused(
    "route",
    "read EVENTS' messages by sequence",
    (nc) => requestRefusal(nc, "$JS.API.STREAM.MSG.GET.EVENTS", { seq: 1 }),
  );
  await refused("persist", "publish to EVENTS", (nc) => requestRefusal(nc, "events.x", "e"));
  await refused("persist", "pull from route's durable", pull("INGEST", "route-0"));
  await refused(
    "persist",
    "replace route's durable",
    replace(before.consumers["INGEST/route-0"], "INGEST", "route-0"),
  );
  await refused(
    "persist",
    "ack for route",
    (nc) => publishRefusal(nc, "$JS.ACK.INGEST.route-0.1.1.1.1.1", "+ACK"),
  );
  await refused(
    "persist",
    "subscribe to events directly",
    (nc) => subscribeRefusal(nc, "events.>"),
  );
  await refused(
    "persist",
    "read route's KV bucket",
    (nc) =>
      requestRefusal(nc, `$JS.API.DIRECT.GET.KV_${SEEN_BUCKET}.$KV.${SEEN_BUCKET}.k`, undefined),
  );
  await refused("notify", "publish to EVENTS", (nc) => requestRefusal(nc, "events.x", "e"));
  await refused("notify", "pull from persist's durable", pull("EVENTS", "persist"));
  await refused(
    "notify",
    "replace persist's durable",
    replace(before.consumers["EVENTS/persist"], "EVENTS", "persist"),
  );
  await refused(
    "notify",
    "create a consumer with its name only in the request",
    (nc) =>
      requestRefusal(nc, "$JS.API.CONSUMER.CREATE.EVENTS", {
        stream_name: "EVENTS",
        config: { name: "persist", ack_policy: "none" },
      }),
  );
  await refused(
    "notify",
    "create consumers on INGEST",
    async (nc) => (await jetstreamManager(nc)).consumers.add("INGEST", { name: "peek" }),
  );
  await refused(
    "notify",
    "ack for persist",
    (nc) => publishRefusal(nc, "$JS.ACK.EVENTS.persist.1.1.1.1.1", "+ACK"),
  );
  await refused(
    "notify",
    "write route's KV bucket",
    (nc) => requestRefusal(nc, `$KV.${SEEN_BUCKET}.k`, "v"),
  );

  t.same(
    await snapshot(jsm),
    before,
    "every stream, bucket and durable is as before: config, contents, positions",
  );

  for (
    const [who, opts] of [["no credentials", {}], ["a wrong password", {
      user: "route",
      pass: "guess",
    }]] as const
  ) {
    const err = await connect({ servers: ns.url, ...opts }).then(
      (nc) => nc.close().then(() => undefined),
      (e: unknown) => e,
    );
    t.match(String(err), /Authorization Violation|authentication/i, `${who}: refused`);
  }
});

t.test("NATS_TOKEN: a service connects to a server that wants a token, and fails fast without it", async (t) => {
  const token = crypto.randomUUID();
  const ns = await startNatsServer({ args: ["--auth", token] });
  t.teardown(() => ns.stop());
  await migrateAsAdmin([ns.url], { NATS_TOKEN: token });
  const log = testLogger("ingest");
  const ingest = await startIngest(
    readIngestConfig({
      NATS_URL: ns.url,
      NATS_TOKEN: token,
      INGEST_HOST: "127.0.0.1",
      INGEST_PORT: "0",
      INGEST_OPS_PORT: "0",
      JETMESH_AUTH: "none",
    }),
    log,
  );
  t.teardown(() => ingest.stop());
  const ready = await fetch(`http://127.0.0.1:${ingest.opsPort}/readyz`);
  t.equal(ready.status, 200, "ready with the token");
  const err = await startIngest(
    readIngestConfig({
      NATS_URL: ns.url,
      NATS_TOKEN: "wrong",
      INGEST_PORT: "0",
      INGEST_OPS_PORT: "0",
      JETMESH_AUTH: "none",
    }),
    log,
  ).then(
    (svc) => svc.stop().then(() => undefined),
    (e: unknown) => e,
  );
  t.match(
    String(err),
    /Authorization Violation|authentication/i,
    "a wrong token is refused at start",
  );
});

/**
 * Issue 14: every service in replicas on a 3-node cluster with R3 streams —
 * 2 ingest, 3 route, 2 persist, 2 notify — as behind a load balancer:
 * publishers on both ingest replicas, subscribers that drop their connection
 * again and again and resume from their cursor on the other notify replica,
 * and one notify and one persist replica killed with SIGKILL midway and
 * started again. Each subscriber must see every event once, each channel in
 * stream order (and each publisher's events in publish order); PostgreSQL,
 * written by both persist replicas, holds every event once; presence reads the
 * same on both notify replicas while a member moves from one to the other.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import postgres from "postgres";
import t, { type Test } from "tap";
import { Follower } from "./follower.ts";
import { Traffic } from "./traffic.ts";
import { stackEnv } from "../../devkit/in-process-stack.ts";
import { ServiceLauncher } from "../../devkit/launcher.ts";
import { startNatsCluster } from "../../devkit/nats-cluster.ts";
import { migrateAsAdmin, natsUsers } from "../../devkit/nats-users.ts";
import { restartablePorts } from "../../devkit/ports.ts";
import { parseMetrics, valueOf } from "../../devkit/prometheus.ts";
import { publishMarkers, TestClient, waitFor } from "../../devkit/test-client.ts";
import { testDatabase } from "../../devkit/test-db.ts";
import { EVENTS_STREAM } from "../../subjects/mod.ts";
import type { ServiceName } from "../../devkit/catalog.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CHANNELS = Array.from({ length: 24 }, (_, i) => `rp.c${i}`);
const REPLICAS = { ingest: 2, route: 3, persist: 2, notify: 2 } as const;
const FOLLOWERS = 3;
const HOPS = 4;
const PUBLISHERS = ["pa", "pb"];

t.test("2 ingest, 3 route, 2 persist, 2 notify on an R3 cluster: subscribers hopping between notify replicas, one notify and one persist replica killed midway: every event once, in order per channel; stored once; presence the same on both", async (t) => {
  const users = natsUsers();
  const cluster = await startNatsCluster(3, users.server);
  t.teardown(() => cluster.stop());
  const db = await testDatabase();
  t.teardown(() => db.drop());
  const [ingest, route, persist, notify, notifyOps] = await restartablePorts(5);
  const env = {
    ...stackEnv(cluster.urls[0], db, { ingest, route, persist, notify }),
    NATS_URL: cluster.urls.join(","),
    STREAM_REPLICAS: "3",
    NOTIFY_OPS_PORT: String(notifyOps),
    // What the killed persist replica held comes back to the other one within the test.
    PERSIST_ACK_WAIT: "3s",
  };
  await migrateAsAdmin(cluster.urls, env, users.admin);
  const services = new ServiceLauncher({
    env,
    own: (name) => users.serviceEnv(name),
    replicas: REPLICAS,
  });
  t.teardown(() => services.stopAll());
  const started = Date.now();
  await services.startAll();
  t.comment(`9 processes up in ${Date.now() - started} ms`);
  const wsOf = (name: ServiceName, instance: number) =>
    `ws://127.0.0.1:${services.envOf({ name, instance })[`${name.toUpperCase()}_PORT`]}/v1/ws`;
  const notifyWs = [0, 1].map((i) => wsOf("notify", i));

  // Each follower starts on another replica; every reconnect goes to the other one.
  const followers = Array.from(
    { length: FOLLOWERS },
    (_, k) => new Follower(k % 2 === 0 ? notifyWs : [...notifyWs].reverse(), "rp.>"),
  );
  t.teardown(() => followers.forEach((f) => f.stop()));
  await waitFor("every follower subscribed", () => followers.every((f) => f.last !== undefined));

  const traffic = await Promise.all(
    PUBLISHERS.map((p, i) => Traffic.start(wsOf("ingest", i), p, CHANNELS, 4)),
  );
  const killed = [{ name: "notify", instance: 1 }, { name: "persist", instance: 1 }] as const;
  for (let hop = 0; hop < HOPS; hop++) {
    // Subscribers on the killed notify find it gone and go to the other, and so do those that
    // come to it while it is down; the hops after its restart reach it again.
    if (hop === 1) await Promise.all(killed.map((ref) => services.kill(ref)));
    if (hop === 2) await Promise.all(killed.map((ref) => services.start(ref)));
    for (const f of followers) {
      await sleep(400);
      f.reconnect();
    }
  }
  await Promise.all(traffic.map((p) => p.stop()));
  const markers = await publishMarkers(wsOf("ingest", 1), CHANNELS);
  for (const [k, f] of followers.entries()) {
    await waitFor(`follower ${k} has every marker`, () => {
      const ids = new Set(f.ids);
      return markers.every((id) => ids.has(id));
    }, 60_000);
  }
  const published = traffic.flatMap((p) => p.published);
  t.comment(`${published.length} events published over both ingest replicas`);

  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 5 }));
  const events = sql(`${db.schema}.events`);
  const total = published.length + markers.length;
  let stored: Array<{ event_id: string; channel: string }> = [];
  for (const deadline = Date.now() + 30_000; stored.length < total && Date.now() < deadline;) {
    stored = await sql`select event_id, channel from ${events} order by epoch, seq`;
    if (stored.length < total) await sleep(200);
  }
  t.equal(stored.length, total, "PostgreSQL holds every event");
  const storedIds = new Set(stored.map((r) => r.event_id));
  t.ok(published.every((e) => storedIds.has(e.id)), "each published one");
  const nc = await connect({ servers: cluster.urls, ...users.admin });
  t.teardown(() => nc.close());
  const si = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
  t.equal(si.state.messages, total, "EVENTS holds each event once (route published none twice)");
  t.equal(si.config.num_replicas, 3, "on three nodes");

  // The stream's order per channel, as stored (cursor order is stream order).
  const streamOrder = new Map<string, string[]>(CHANNELS.map((c) => [c, []]));
  for (const r of stored) streamOrder.get(r.channel)?.push(r.event_id);
  let publishOrderKept = true;
  for (const [i, p] of traffic.entries()) {
    for (const c of CHANNELS) {
      const own = streamOrder.get(c)!.filter((id) => id.startsWith(`${PUBLISHERS[i]}:`));
      if (JSON.stringify(own) !== JSON.stringify(p.ids((ch) => ch === c))) publishOrderKept = false;
    }
  }
  t.ok(publishOrderKept, "each publisher's events in publish order in every channel");

  const channelOf = new Map(stored.map((r) => [r.event_id, r.channel]));
  for (const [k, f] of followers.entries()) {
    t.ok(
      f.sessions >= HOPS + 1,
      `follower ${k} connected ${f.sessions} times, alternating replicas`,
    );
    t.equal(f.repeats, 0, `follower ${k}: no event sent twice`);
    t.equal(new Set(f.ids).size, f.ids.length, `follower ${k}: no id twice`);
    t.equal(f.ids.length, total, `follower ${k}: every event`);
    const outOfOrder = CHANNELS.filter((c) =>
      JSON.stringify(f.ids.filter((id) => channelOf.get(id) === c)) !==
        JSON.stringify(streamOrder.get(c))
    );
    t.same(outOfOrder, [], `follower ${k}: every channel in stream order`);
  }

  const counted = (name: ServiceName, metric: string) =>
    Promise.all(
      services.refsOf(name).map(async (ref) =>
        valueOf(
          parseMetrics(await (await fetch(`${services.opsUrl(ref)}/metrics`)).text()),
          metric,
        ) ?? 0
      ),
    );
  const byPersist = await counted("persist", "jetmesh_events_acked_total");
  t.ok(
    byPersist.every((n) => n > 0),
    `both persist replicas wrote (${byPersist.join(", ")} acked)`,
  );
  const byNotify = await counted("notify", "jetmesh_events_delivered_total");
  t.ok(
    byNotify.every((n) => n > 0),
    `both notify replicas delivered (${byNotify.join(", ")} events)`,
  );
  t.equal(services.unexpectedExits.length, 0, "no replica exited on its own");

  await presenceAcrossReplicas(t, notifyWs);
});

/** Who each notify replica says is in `room`, asked on a fresh connection. */
async function membersOn(url: string): Promise<string[]> {
  const c = await TestClient.open(url);
  try {
    c.sendJson({ op: "presence", channel: "room" });
    return (await c.next((f) => f.op === "presence")).members as string[];
  } finally {
    await c.close();
  }
}

async function presenceAcrossReplicas(t: Test, notifyWs: string[]): Promise<void> {
  const onBoth = async (want: string[], what: string) => {
    let seen: string[][] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      seen = await Promise.all(notifyWs.map(membersOn));
      if (seen.every((m) => JSON.stringify(m) === JSON.stringify(want))) break;
      await sleep(100);
    }
    t.same(seen, [want, want], what);
  };
  const join = async (url: string, member: string) => {
    const c = await TestClient.open(url);
    c.sendJson({ op: "join", channel: "room", member });
    await c.next((f) => f.op === "joined");
    return c;
  };
  const alice = await join(notifyWs[0], "alice");
  const bob = await join(notifyWs[1], "bob");
  await onBoth(["alice", "bob"], "both replicas list members of either");
  // Her connection drops; she is back on the other replica.
  alice.ws.terminate();
  const aliceAgain = await join(notifyWs[1], "alice");
  await onBoth(["alice", "bob"], "a member who moved to the other replica is listed once, on both");
  await aliceAgain.close();
  await onBoth(["bob"], "her leaving shows on both");
  await bob.close();
  await onBoth([], "and nobody is left");
}

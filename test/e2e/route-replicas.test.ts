/**
 * Issue 14: route in three replicas, each INGEST partition held by one of them
 * at a time. Replicas are killed with SIGKILL one at a time and two at once,
 * and one is stopped gracefully (its partitions handed over by unpin), while a
 * publisher runs on many channels; the subscriber must see every event once,
 * in publish order per channel.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { heldPartitions } from "../../devkit/route-logs.ts";
import { connect } from "@nats-io/transport-node";
import t from "tap";
import { Follower } from "./follower.ts";
import { Traffic } from "./traffic.ts";
import { stackEnv } from "../../devkit/in-process-stack.ts";
import { ServiceLauncher } from "../../devkit/launcher.ts";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { migrateAsAdmin, natsUsers } from "../../devkit/nats-users.ts";
import { restartablePorts } from "../../devkit/ports.ts";
import { testDatabase } from "../../devkit/test-db.ts";
import { DEFAULT_PARTITIONS, INGEST_STREAM, routeConsumerName } from "../../subjects/mod.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CHANNELS = Array.from({ length: 40 }, (_, i) => `rr.c${i}`);
const REPLICAS = 3;

t.test("three route replicas: kill -9 one, then two at once, then a hand-over; every event once, in order per channel", async (t) => {
  const users = natsUsers();
  const nats = await startNatsServer(users.server);
  t.teardown(() => nats.stop());
  const db = await testDatabase();
  t.teardown(() => db.drop());
  const [ingest, notify, persist, route] = await restartablePorts(4);
  const env = {
    ...stackEnv(nats.url, db, { ingest, route, persist, notify }),
    // A short ack wait makes the pin timeout (ack wait + 5 s) and so each failover short.
    ROUTE_ACK_WAIT: "2s",
  };
  await migrateAsAdmin([nats.url], env, users.admin);
  const services = new ServiceLauncher({
    env,
    own: (name) => users.serviceEnv(name),
    replicas: { route: REPLICAS },
  });
  t.teardown(() => services.stopAll());
  const routes = services.refsOf("route");
  await services.startAll();
  const follower = new Follower(`ws://127.0.0.1:${notify}/v1/ws`, "rr.>");
  t.teardown(() => follower.stop());
  while (follower.last === undefined) await sleep(20);
  const traffic = await Traffic.start(`ws://127.0.0.1:${ingest}/v1/ws`, "rr", CHANNELS, 3);
  await follower.until(200);
  // Pins come with the first messages: the first replica wins every partition; the balancer hands the surplus over.
  const holds = heldPartitions;
  const shared = Date.now();
  const fairShare = Math.ceil(DEFAULT_PARTITIONS / REPLICAS);
  const current = () => routes.map((ref) => services.process(ref));
  while (!current().every((r) => holds(r) > 0 && holds(r) <= fairShare)) {
    if (Date.now() - shared > 45_000) break;
    await sleep(200);
  }
  const share = current().map(holds);
  t.ok(share.every((n) => n > 0), `every replica holds partitions (${share.join(", ")})`);
  t.comment(`shared after ${Date.now() - shared} ms`);
  t.ok(
    share.every((n) => n <= fairShare),
    "none more than its fair share",
  );

  // The replica(s) holding partitions are whichever pulled first; killing each in turn kills
  // an owner at least once.
  await services.kill(routes[0]);
  await sleep(3000);
  await services.start(routes[0]);
  await follower.until(traffic.published.length, 60_000);
  await Promise.all([services.kill(routes[1]), services.kill(routes[2])]);
  await sleep(2000);
  await Promise.all([services.start(routes[1]), services.start(routes[2])]);
  await follower.until(traffic.published.length, 60_000);
  for (let i = 0; i < REPLICAS; i++) {
    t.match(
      await services.term(routes[i]),
      { code: 0, killed: false },
      `replica ${i} stops gracefully`,
    );
    if (i < REPLICAS - 1) await sleep(1000);
    if (i < REPLICAS - 1) await services.start(routes[i]);
  }
  await services.start(routes[REPLICAS - 1]);

  await traffic.stop();
  const published = traffic.published;
  await follower.until(published.length, 90_000);
  await sleep(1000);
  t.equal(follower.repeats, 0, "no event sent twice");
  t.equal(follower.ids.length, published.length, "every event delivered once");
  t.equal(new Set(follower.ids).size, follower.ids.length, "no id twice");
  const channelOf = new Map(published.map((e) => [e.id, e.channel]));
  let outOfOrder = 0;
  for (const c of CHANNELS) {
    const want = published.filter((e) => e.channel === c).map((e) => e.id);
    const got = follower.ids.filter((id) => channelOf.get(id) === c);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      if (outOfOrder++ === 0) {
        const i = got.findIndex((id, k) => id !== want[k]);
        t.comment(
          `${c} first differs at ${i}: got ${got.slice(i, i + 5)} want ${want.slice(i, i + 5)}`,
        );
      }
    }
  }
  t.equal(outOfOrder, 0, "every channel in publish order");

  const count = (re: RegExp) =>
    services.history.filter((p) => p.name === "route").reduce((n, p) => n + p.countLogs(re), 0);
  t.ok(count(/^partition taken over$/) >= DEFAULT_PARTITIONS * 2, "partitions moved on failures");
  t.ok(count(/^partitions handed over$/) >= 1, "a graceful stop handed its partitions over");
  t.comment(
    `${published.length} events; takeovers ${count(/^partition taken over$/)}, waits for ` +
      `left-over events ${count(/^waiting for events the previous holder left unacked$/)}`,
  );

  const nc = await connect({ servers: nats.url, ...users.admin });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  let left = 0;
  for (let p = 0; p < DEFAULT_PARTITIONS; p++) {
    const ci = await jsm.consumers.info(INGEST_STREAM, routeConsumerName(p));
    left += ci.num_pending + ci.num_ack_pending;
  }
  t.equal(left, 0, "every partition's durable drained");
});

import postgres from "postgres";
import type { Test } from "tap";
import { testDatabase } from "../../devkit/test-db.ts";
import { migrateAsAdmin, type NatsUsers, natsUsers } from "../../devkit/nats-users.ts";
import { type NatsCluster, startNatsCluster } from "../../devkit/nats-cluster.ts";
import { faultSeed } from "./prng.ts";
import { jwtAuth } from "../../devkit/tokens.ts";
import { tempNamespaces } from "../../devkit/namespaces-file.ts";
import { type BusState, busState, useAdmin } from "./bus.ts";
import { Load } from "./driver.ts";
import { type FaultCounts, formatFigures } from "./figures.ts";
import { ServiceLauncher } from "../../devkit/launcher.ts";
import { CATALOG, type ServiceName } from "../../devkit/catalog.ts";
import { backingEnv, freeServicePorts, listenEnv } from "../../devkit/service-env.ts";
import { storedEvents, verify } from "./verify.ts";
import { waitUntil, within } from "./wait.ts";

/**
 * Short enough that messages a killed route or persist held come back within
 * the run. The work a service may hold (max ack pending) is scaled down with
 * it, so a healthy service working through a backlog never lets one expire.
 */
export const ACK_WAIT_MS = 5000;
const MAX_ACK_PENDING = 512;
/** Longer than any client resend or crash redelivery takes here, far shorter than a run. */
const DUPLICATE_WINDOW = "30s";

/**
 * Limits that never refuse the suite's clients, so a refusal is a fault of the
 * services under test rather than of the load: rates far above what four
 * publishers and a burst of resends after a restart send; connection counts
 * far above the handful of clients, even while a service still counts
 * connections whose clients have already reconnected; a replay window longer
 * than any run, so a subscriber's resume cursor is never too old, and a
 * catch-up pace that does not stretch the drain after a notify restart.
 */
const NAMESPACES = {
  defaults: {
    publishRate: { perSecond: 100_000, burst: 100_000 },
    commandRate: { perSecond: 100_000, burst: 100_000 },
    replay: { maxAge: "2h", eventsPerSecond: 100_000 },
  },
  connections: { perAddress: 10_000, perIdentity: 1_000 },
};

export interface Harness {
  servers: string[];
  /** Every service, in `serviceReplicas` replicas. */
  services: ServiceLauncher;
  load: Load;
  sql: postgres.Sql;
  schema: string;
  /** When the load started, for the figures. */
  startedAt: number;
}

/**
 * PostgreSQL schema, the four services as processes on fixed ports, and the
 * load running against them. One teardown stops it all in an order that never
 * leaves a service waiting on a bus or database that is already gone. The
 * servers run with `users` (natsUsers()): the migration runs as admin, each
 * service as its own user.
 */
export async function startHarness(
  t: Test,
  o: {
    servers: string[];
    users: NatsUsers;
    /** Stream replicas (1 on a single node, 3 on the cluster). */
    replicas: number;
    stopNats: () => Promise<void>;
    /** Processes per service (default 1 each); clients spread over the edges' replicas. */
    serviceReplicas?: Partial<Record<ServiceName, number>>;
  },
): Promise<Harness> {
  useAdmin(o.users.admin);
  const db = await testDatabase();
  const ports = await freeServicePorts();
  // Auth on, as in production: the suite must pass with every client proving who it is.
  const auth = jwtAuth();
  const namespaces = tempNamespaces("faults", NAMESPACES);
  const env: Record<string, string> = {
    ...backingEnv(o.servers, db, 4),
    STREAM_REPLICAS: String(o.replicas),
    ...auth.env,
    JETMESH_NAMESPACES: namespaces.file,
    ...listenEnv(ports),
    ROUTE_ACK_WAIT: `${ACK_WAIT_MS}ms`,
    PERSIST_ACK_WAIT: `${ACK_WAIT_MS}ms`,
    // INGEST's window far shorter than the run, so the run stands in for a long history: a
    // client's retry that comes later than this is a new INGEST message, which EVENTS'
    // window (the dedupe horizon, ROUTE_DEDUPE_TTL) must drop.
    INGEST_DUPLICATE_WINDOW: DUPLICATE_WINDOW,
    ROUTE_MAX_ACK_PENDING: String(MAX_ACK_PENDING),
    PERSIST_MAX_ACK_PENDING: String(MAX_ACK_PENDING),
    PERSIST_MAX_BATCH: String(MAX_ACK_PENDING / 2),
  };
  const services = new ServiceLauncher({
    env,
    own: (name) => o.users.serviceEnv(name),
    replicas: o.serviceReplicas,
  });
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  // The teardown, registered before the load starts, must see it once it has.
  // deno-lint-ignore prefer-const
  let load: Load | undefined;
  t.teardown(async () => {
    load?.close();
    await services.stopAll();
    await sql.end({ timeout: 5 });
    await db.drop();
    await o.stopNats();
    namespaces.remove();
  });
  await migrateAsAdmin(o.servers, env, o.users.admin);
  await services.startAll();
  // Every replica's port, known once it has started.
  const wsUrls = (name: "ingest" | "notify") =>
    services.refsOf(name).map((ref) =>
      `ws://127.0.0.1:${services.envOf(ref)[CATALOG[name].port.variable]}/v1/ws`
    );
  load = await Load.start({
    ingestWs: wsUrls("ingest"),
    notifyWs: wsUrls("notify"),
    publishers: 4,
    channels: 6,
    channelSubscribers: 3,
    intervalMs: 120,
    secret: auth.secret,
  });
  return {
    servers: o.servers,
    services,
    load,
    sql,
    schema: db.schema,
    startedAt: Date.now(),
  };
}

/**
 * The 3-node cluster (R3 streams) with the harness on it, for a run whose seed is printed under
 * `label`; the services get every node's URL and reconnect to whichever is up.
 */
export async function startClusterHarness(
  t: Test,
  label: string,
  serviceReplicas?: Partial<Record<ServiceName, number>>,
): Promise<{ seed: number; cluster: NatsCluster; h: Harness }> {
  const seed = faultSeed(label);
  const users = natsUsers();
  const cluster = await startNatsCluster(3, users.server);
  const h = await startHarness(t, {
    servers: cluster.urls,
    users,
    replicas: 3,
    stopNats: () => cluster.stop(),
    serviceReplicas,
  });
  return { seed, cluster, h };
}

/**
 * Stops the load, lets the system drain, then checks what jetmesh promises under faults:
 * every acked event stored once, every subscriber saw every event of its
 * channels once and in order, nothing pending on the consumers, DLQ empty.
 */
export async function drainAndVerify(
  t: Test,
  h: Harness,
  o: { title: string; seed: number; faults: FaultCounts },
): Promise<void> {
  const loadSeconds = (Date.now() - h.startedAt) / 1000;
  const { load, sql } = h;
  const allAcked = await within(load.stopPublishing(), 90_000);
  t.ok(allAcked, "every event sent was acked in the end (publishers resend until it is)");

  let bus: BusState | undefined;
  const storedCount = async () =>
    (await sql`select count(*)::int as n from ${sql(`${h.schema}.events`)}`)[0].n as number;
  const drained = await waitUntil(async () => {
    bus = await busState(h.servers);
    const idle = (c: { pending: number; ackPending: number }) =>
      c.pending === 0 && c.ackPending === 0;
    return idle(bus.route) && idle(bus.persist) && (await storedCount()) >= load.acked;
  }, 90_000);
  t.ok(
    drained.ok,
    `the pipeline drained${drained.lastError ? ` (last error: ${drained.lastError})` : ""}`,
  );

  // The end signal: one last event per channel, after everything else. A
  // subscriber holding it on a channel has been sent all that channel's events
  // before it, a late duplicate included (order per channel); no pause.
  let ends: string[] = [];
  const ended = await within(load.publishers[0].end().then((ids) => (ends = ids)), 30_000);
  t.ok(ended, "a last event on every channel was acked");
  const endOf = (c: string) => ends.find((id) => id.endsWith(`:${c}-end`));
  const through = () =>
    load.subscribers.every((s) =>
      load.channelsOf(s).every((c) => s.delivered.get(c)?.some((d) => d.id === endOf(c)))
    );
  t.ok(
    ended && (await waitUntil(through, 30_000, 100)).ok,
    "every subscriber received the last event of each of its channels",
  );

  const v = verify(load, await storedEvents(sql, h.schema));
  console.log(
    formatFigures({
      title: o.title,
      seed: o.seed,
      loadSeconds,
      faults: o.faults,
      startRetries: h.services.startRetries.length,
      verdict: v,
      load,
    }),
  );

  t.equal(v.acked, v.published, "every published event was acked");
  t.same(v.lost, [], "every acked event is in PostgreSQL");
  t.same(v.strays, [], "PostgreSQL holds nothing that was not published");
  // The table's primary key on the event id makes this hold by construction; it stays as
  // documentation. The exactly-once checks that can fail are the subscribers' below.
  t.equal(v.stored, v.acked, "PostgreSQL holds each acked event exactly once");
  t.same(
    v.storeOrder,
    [],
    "each publisher's events are stored in the order it sent them, per channel",
  );
  t.equal(v.duplicates, 0, "no subscriber processed an event twice");
  t.equal(
    v.resentAtCursor,
    0,
    "notify sent no subscription an event at or before a cursor it had already sent it",
  );
  t.equal(v.gaps, 0, "no subscriber missed an event");
  t.same(
    v.deliveryOrder,
    [],
    "every subscriber saw exactly the stored events of its channels, in cursor order, with their cursors",
  );
  t.equal(v.delivered, v.expectedDeliveries, "deliveries add up");
  t.ok(bus, "consumer state was read");
  if (bus) {
    t.same(
      bus.route,
      { ...bus.route, pending: 0, ackPending: 0 },
      "durable route: nothing pending, nothing awaiting an ack",
    );
    t.same(
      bus.persist,
      { ...bus.persist, pending: 0, ackPending: 0 },
      "durable persist: nothing pending, nothing awaiting an ack",
    );
    t.equal(bus.dlqMessages, 0, "DLQ is empty");
  }
  t.same(
    load.publishers.flatMap((p) => p.stats.unexpected),
    [],
    "publishers got no unexpected frames",
  );
  t.same(
    load.subscribers.flatMap((s) => s.stats.unexpected),
    [],
    "subscribers got no unexpected frames",
  );
  t.same(
    load.publishers.flatMap((p) => p.stats.acksLostToGracefulStop),
    [],
    "a graceful ingest stop answered every publish it had taken",
  );
  t.same(
    h.services.unexpectedExits,
    [],
    "no service exited on its own",
  );
  const logs = `.tap/faults/${o.title.replace(/\W+/g, "-")}-${o.seed}.log`;
  h.services.dumpLogs(logs);
  console.log(`service logs: ${logs}`);
  // How often the safety nets fired: EVENTS' window dropping route's republishes (a route
  // killed between a PubAck and its ack, a durable that lost acks on a nats-server kill -9, a
  // client's retry past INGEST's window), and the check for pulls nats-server dropped (2.9.10).
  const routedAgain = h.services.countLogs(
    /^event already in EVENTS: acked without a second copy$/,
  );
  const droppedPulls = h.services.countLogs(/^pull request no longer on the server/);
  console.log(
    `safety nets: republishes EVENTS dropped by msgID ${routedAgain}, pulls ended by the dropped-pull check ${droppedPulls}`,
  );
}

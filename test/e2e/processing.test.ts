/**
 * Issue 15: route runs the IoT example's rules (examples/iot/namespaces.yaml).
 * The IoT load generator's input (out of order, duplicated and late readings)
 * goes through a real ingest; a subscriber on notify collects iot.avg10s.*,
 * alerts.iot.* and iot.late.*, which must equal the generator's reference
 * output exactly, each once. Then the same with two route replicas, each
 * killed with SIGKILL mid-stream: checkpoints in KV, replay from them and the
 * deterministic output ids must give the very same results, none twice.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { CATALOG } from "../../devkit/catalog.ts";
import { stackEnv } from "../../devkit/in-process-stack.ts";
import { ServiceLauncher } from "../../devkit/launcher.ts";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { migrateAsAdmin, natsUsers } from "../../devkit/nats-users.ts";
import { restartablePorts } from "../../devkit/ports.ts";
import { type ServiceProcess, spawnService } from "../../devkit/service-process.ts";
import { type Frame, TestClient } from "../../devkit/test-client.ts";
import { testDatabase } from "../../devkit/test-db.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";
import { plan, subOf } from "../../examples/load/cli.ts";
import { publishAll, type WireEvent } from "../../examples/load/publish.ts";
import { iot } from "../../examples/iot/load.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NAMESPACES = fileURLToPath(new URL("../../examples/iot/namespaces.yaml", import.meta.url));

interface Stack {
  ingestHttp: string;
  notifyWs: string;
  token: string;
  replicas: Array<ServiceProcess | undefined>;
  startReplica(i: number): Promise<void>;
  killReplica(i: number): Promise<void>;
  history: ServiceProcess[];
}

async function startIotStack(
  t: Test,
  routeReplicas: number,
): Promise<Stack> {
  const users = natsUsers();
  const nats = await startNatsServer(users.server);
  t.teardown(() => nats.stop());
  const db = await testDatabase();
  t.teardown(() => db.drop());
  const [ingest, notify, persist, ...routePorts] = await restartablePorts(3 + routeReplicas);
  const auth = jwtAuth();
  const env = {
    ...stackEnv(nats.url, db, { ingest, route: routePorts[0], persist, notify }),
    ...auth.env,
    JETMESH_NAMESPACES: NAMESPACES,
    // A short ack wait makes the pin timeout (ack wait + 5 s), and so each failover, short.
    ROUTE_ACK_WAIT: "1s",
    // Checkpoints within the run, so a take-over replays from one rather than from the start.
    ROUTE_CHECKPOINT_INTERVAL: "2s",
  };
  await migrateAsAdmin([nats.url], env, users.admin);
  const services = new ServiceLauncher({ env, own: (name) => users.serviceEnv(name) });
  t.teardown(() => services.stopAll());
  // What every process logged, when something failed (route's replicas are not the launcher's).
  t.teardown(() => {
    if (t.passing()) return;
    services.dumpLogs(".tap/processing-services.log");
    const lines = history.flatMap((p) => [
      `=== route pid ${p.child.pid}`,
      ...p.logs.map((l) => JSON.stringify(l)),
    ]);
    writeFileSync(".tap/processing-route.log", `${lines.join("\n")}\n`);
  });
  for (const name of ["ingest", "persist", "notify"] as const) await services.start(name);
  const replicas: Array<ServiceProcess | undefined> = [];
  const history: ServiceProcess[] = [];
  const stack: Stack = {
    ingestHttp: `http://127.0.0.1:${ingest}`,
    notifyWs: `ws://127.0.0.1:${notify}/v1/ws`,
    token: await mintToken(auth.secret, "loadgen"),
    replicas,
    history,
    async startReplica(i) {
      const proc = spawnService("route", {
        ...services.envOf("route"),
        ROUTE_PORT: String(routePorts[i]),
      });
      replicas[i] = proc;
      history.push(proc);
      await proc.waitForLog(CATALOG.route.ready, 60_000);
    },
    async killReplica(i) {
      await replicas[i]?.stop("SIGKILL");
      replicas[i] = undefined;
    },
  };
  t.teardown(async () => {
    for (let i = 0; i < routeReplicas; i++) await stack.killReplica(i);
  });
  for (let i = 0; i < routeReplicas; i++) await stack.startReplica(i);
  return stack;
}

/**
 * The generator's input (50 devices, 90 s of readings) sent over `spreadMs` in the planned
 * order: a minute and a half of event time in a few seconds.
 */
function iotInput(token: string, spreadMs: number) {
  // Event times all in the past (nothing is ahead of ingest's clock), from 15 s into a
  // 2-minute period: the hot devices' temperature (examples/iot/load.ts) peaks at 30 s, so
  // the closed windows see the `hot` alert fire and clear.
  const start = Math.floor((Date.now() - 200_000) / 120_000) * 120_000 + 15_000;
  const { planned, events, opts } = plan(iot, {
    seed: 15,
    start,
    durationSec: 90,
    rate: 30,
    keys: 50,
  });
  const expected = iot.expected(planned, opts, subOf(token)) as unknown as Expected;
  const first = Date.now() + 500;
  const n = events.length;
  const paced: WireEvent[] = events.map((e, i) => ({
    ...e,
    at: first + Math.floor((i * spreadMs) / n),
  }));
  return { planned, events: paced, expected };
}

/**
 * Small requests: ingest publishes a request's events channel by channel, so a large one
 * would store a later reading of one device before an earlier one of another, further apart
 * than the lateness the generator allows for (its batches span milliseconds, not seconds).
 */
const MAX_BATCH = 10;

interface WindowResult {
  channel: string;
  data: { device: string; windowStart: number };
}

/** What examples/iot/load.ts `expected` gives (the file `--expected` writes). */
interface Expected {
  windows: WindowResult[];
  mayBeOpen: WindowResult[];
  alerts: Array<{ channel: string; key: string; windowStart: number; state: string }>;
  late: string[];
}

/** Subscribes to what route derives, and to the readings themselves. */
async function subscriber(t: Test, url: string): Promise<TestClient> {
  const sub = await TestClient.open(url);
  t.teardown(() => sub.close());
  for (const channel of ["iot.>", "alerts.iot.>"]) {
    sub.sendJson({ op: "sub", channel });
    await sub.next((f) => f.op === "subscribed" && f.channel === channel);
  }
  return sub;
}

function byChannel(events: Frame[], prefix: string): Frame[] {
  return events.filter((f) => String(f.channel).startsWith(prefix));
}

/** Waits until every expected result is in (or the time is up), then compares exactly. */
async function compare(t: Test, sub: TestClient, exp: Expected, readings: number) {
  const closed = new Set(exp.windows.map((w) => `${w.channel}@${w.data.windowStart}`));
  const done = () => {
    const ev = sub.events();
    const windows = byChannel(ev, "iot.avg10s.").filter((f) =>
      closed.has(`${f.channel}@${(f.data as { windowStart: number }).windowStart}`)
    );
    return windows.length >= exp.windows.length &&
      byChannel(ev, "iot.late.").length >= exp.late.length &&
      byChannel(ev, "iot.readings.").length >= readings;
  };
  const deadline = Date.now() + 30_000;
  while (!done() && Date.now() < deadline) await sleep(200);
  // A moment more for anything that should not come (a duplicate, a late alert).
  await sleep(1500);
  const ev = sub.events();
  const ids = ev.map((f) => String(f.id));
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  t.same(twice, [], "no event delivered twice");

  const windows = byChannel(ev, "iot.avg10s.");
  const windowOf = (f: Frame) => `${f.channel}@${(f.data as { windowStart: number }).windowStart}`;
  const gotClosed = windows.filter((f) => closed.has(windowOf(f)))
    .map((f) => ({ channel: f.channel, data: f.data }))
    .sort((a, b) => (windowKey(a) < windowKey(b) ? -1 : 1));
  const want = [...exp.windows].sort((a, b) => (windowKey(a) < windowKey(b) ? -1 : 1));
  t.equal(gotClosed.length, want.length, `${want.length} closed windows`);
  t.same(gotClosed, want, "every closed window equals the reference");
  const open = new Map(exp.mayBeOpen.map((w) => [`${w.channel}@${w.data.windowStart}`, w]));
  const others = windows.filter((f) => !closed.has(windowOf(f)));
  t.same(
    others.filter((f) => JSON.stringify(open.get(windowOf(f))?.data) !== JSON.stringify(f.data))
      .map((f) => f.data),
    [],
    `the ${others.length} last windows closed so far equal the reference too`,
  );

  const late = byChannel(ev, "iot.late.").map((f) =>
    String((f.data as { event: { id: string } }).event.id)
  ).sort();
  t.same(late, exp.late, `${exp.late.length} late readings on iot.late.*`);
  const unexpected = byChannel(ev, "iot.late.").filter((f) =>
    !exp.late.includes(String((f.data as { event: { id: string } }).event.id))
  );
  if (unexpected.length > 0) {
    writeFileSync(".tap/processing-late.json", JSON.stringify(unexpected.map((f) => f.data)));
  }

  type AlertData = { key: string; state: string; value: number; source: { windowStart: number } };
  const alerts = byChannel(ev, "alerts.iot.").map((f) => {
    const d = f.data as AlertData;
    return {
      channel: f.channel,
      key: d.key,
      windowStart: d.source.windowStart,
      state: d.state,
      value: d.value,
    };
  }).filter((a) => closed.has(`iot.avg10s.${a.key}@${a.windowStart}`));
  const order = (a: { key: string; windowStart: number }, b: typeof a) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : a.windowStart - b.windowStart;
  t.same(alerts.sort(order), [...exp.alerts].sort(order), `${exp.alerts.length} alerts`);
  t.ok(exp.alerts.length > 0 && exp.late.length > 0, "the input has alerts and late readings");
  t.equal(byChannel(ev, "iot.readings.").length, readings, "every reading routed once");
}

function windowKey(w: { channel: unknown; data: unknown }): string {
  return `${w.channel}@${String((w.data as { windowStart: number }).windowStart).padStart(15)}`;
}

t.test("IoT rules in route: results equal the reference", async (t) => {
  const stack = await startIotStack(t, 1);
  const sub = await subscriber(t, stack.notifyWs);
  const { planned, events, expected } = iotInput(stack.token, 6000);
  const stats = await publishAll(events, {
    ingestUrl: stack.ingestHttp,
    token: stack.token,
    maxBatch: MAX_BATCH,
  });
  t.equal(stats.failed, 0, "nothing refused");
  const distinct = new Set(planned.map((p) => p.id)).size;
  await compare(t, sub, expected, distinct);
});

t.test("IoT rules in route: kill -9 each of two replicas mid-stream, the same results", async (t) => {
  const stack = await startIotStack(t, 2);
  const sub = await subscriber(t, stack.notifyWs);
  const { planned, events, expected } = iotInput(stack.token, 20_000);
  const publishing = publishAll(events, {
    ingestUrl: stack.ingestHttp,
    token: stack.token,
    maxBatch: MAX_BATCH,
  });
  // Whichever replica holds partitions (the first to pull wins them all; balancing takes
  // seconds) is killed; the other takes them over, each from its checkpoint, and is killed in
  // turn after a few checkpoints; the restarted first one takes them back.
  const loads = (p: ServiceProcess | undefined) =>
    (p?.logs ?? []).filter((l) => l.msg === "processing state loaded").length;
  const waitLoads = async (i: number, more: number) => {
    const target = loads(stack.replicas[i]) + more;
    const since = Date.now();
    while (loads(stack.replicas[i]) < target && Date.now() - since < 30_000) await sleep(100);
  };
  await sleep(3000);
  const first = loads(stack.replicas[0]) >= loads(stack.replicas[1]) ? 0 : 1;
  const other = 1 - first;
  const before = loads(stack.replicas[other]);
  await stack.killReplica(first);
  // Restarted only once the other has taken over: else it could win the orphans back itself.
  await waitLoads(other, 1);
  t.ok(loads(stack.replicas[other]) > before, `replica ${other} took over after the kill`);
  await sleep(500);
  await stack.startReplica(first);
  await sleep(1000);
  await stack.killReplica(other);
  await waitLoads(first, 1);
  t.ok(loads(stack.replicas[first]) > 0, `replica ${first}, restarted, took over after the kill`);
  const stats = await publishing;
  t.equal(stats.failed, 0, "nothing refused");
  const distinct = new Set(planned.map((p) => p.id)).size;
  await compare(t, sub, expected, distinct);
  const loaded = stack.history.flatMap((p) =>
    p.logs.filter((l) => l.msg === "processing state loaded")
  );
  const replayed = loaded.reduce((n, l) => n + Number(l.replayed ?? 0), 0);
  t.ok(
    loaded.length > 16,
    `partitions taken over with their checkpoints (${loaded.length} loads, ${replayed} replayed)`,
  );
});

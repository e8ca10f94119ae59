// /metrics, /readyz and /healthz of the four services on a real stack.
import t from "tap";
import { parseMetrics, type Sample, valueOf } from "../../devkit/prometheus.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { TestClient } from "../../devkit/test-client.ts";
import { type Stack, startStack } from "../../devkit/in-process-stack.ts";
import { SERVICE_NAMES, type ServiceName } from "../../devkit/catalog.ts";

async function scrape(
  stack: Stack,
  svc: ServiceName,
): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(`${stack.opsUrl(svc)}/metrics`);
  if (res.status !== 200) throw new Error(`${svc} /metrics: ${res.status}`);
  if (!String(res.headers.get("content-type")).startsWith("text/plain")) {
    throw new Error(`${svc} /metrics content-type ${res.headers.get("content-type")}`);
  }
  const text = await res.text();
  return { text, samples: parseMetrics(text) };
}

async function ready(
  stack: Stack,
  svc: ServiceName,
): Promise<{ status: number; body: { status: string; checks: Record<string, string> } }> {
  const res = await fetch(`${stack.opsUrl(svc)}/readyz`);
  return {
    status: res.status,
    body: await res.json() as { status: string; checks: Record<string, string> },
  };
}

async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test("/metrics counts one run hop by hop", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);

  for (
    const [svc, publicUrl] of [["ingest", stack.ingestHttp], ["notify", stack.notifyHttp]] as const
  ) {
    t.not(stack.opsUrl(svc), publicUrl, `${svc}: the operations port is another port`);
    for (const path of ["/metrics", "/healthz", "/readyz"]) {
      const res = await fetch(`${publicUrl}${path}`);
      t.equal(res.status, 404, `${svc}: ${path} is not served on the public port`);
      await res.body?.cancel();
    }
    const ops = await fetch(`${stack.opsUrl(svc)}/metrics`);
    t.equal(ops.status, 200, `${svc}: /metrics on the operations port`);
    await ops.body?.cancel();
  }
  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "m.a" });
  await sub.next((f) => f.op === "subscribed");
  const pub = await TestClient.open(`${stack.ingestWs}?publisher=p`);
  t.teardown(() => pub.close());
  for (let i = 0; i < 20; i++) {
    pub.sendJson({ op: "pub", id: `e-${i}`, channel: "m.a", data: { i } });
  }
  await pub.until((fs) => fs.length === 20, 15_000, "20 acks");
  // Two client retries: acked as duplicates, never published twice.
  for (const i of [3, 7]) pub.sendJson({ op: "pub", id: `e-${i}`, channel: "m.a", data: { i } });
  await pub.until((fs) => fs.length === 22, 15_000, "22 acks");
  const res = await fetch(`${stack.ingestHttp}/v1/publish?publisher=p`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: "h-1", channel: "m.a", data: {} }),
  });
  t.equal(res.status, 200);
  await sub.until((fs) => fs.filter((f) => f.op === "event").length === 21, 15_000, "21 events");

  // Persist acks after the commit and route after the PubAck and the routed mark (marks.ts
  // batches those): wait for the counters, not for time.
  await eventually(
    "persist acked 21",
    async () =>
      valueOf((await scrape(stack, "persist")).samples, "jetmesh_events_acked_total") === 21,
  );
  await eventually("route acked 21, none pending on route-0", async () => {
    const r = (await scrape(stack, "route")).samples;
    return valueOf(r, "jetmesh_events_acked_total") === 21 &&
      valueOf(r, "jetmesh_consumer_num_ack_pending", { stream: "INGEST", consumer: "route-0" }) ===
        0;
  });

  const m = Object.fromEntries(
    await Promise.all(
      SERVICE_NAMES.map(async (s) => [s, (await scrape(stack, s)).samples] as const),
    ),
  ) as Record<
    ServiceName,
    Sample[]
  >;
  const v = (svc: ServiceName, name: string, labels: Record<string, string> = {}) =>
    valueOf(m[svc], name, labels);

  t.same({
    received: v("ingest", "jetmesh_events_received_total"),
    published: v("ingest", "jetmesh_events_published_total"),
    duplicate: v("ingest", "jetmesh_events_duplicate_total"),
    acked: v("ingest", "jetmesh_events_acked_total"),
    failed: v("ingest", "jetmesh_events_failed_total"),
    ackLatencyCount: v("ingest", "jetmesh_publish_ack_seconds_count"),
    connections: v("ingest", "jetmesh_ws_connections"),
    natsConnected: v("ingest", "jetmesh_nats_connected"),
    ingestStream: v("ingest", "jetmesh_stream_messages", { stream: "INGEST" }),
  }, {
    received: 23,
    published: 21,
    duplicate: 2,
    acked: 23,
    failed: 0,
    ackLatencyCount: 23,
    connections: 1,
    natsConnected: 1,
    ingestStream: 21,
  }, "ingest");
  t.same({
    received: v("route", "jetmesh_events_received_total"),
    redelivered: v("route", "jetmesh_events_redelivered_total"),
    published: v("route", "jetmesh_events_published_total"),
    acked: v("route", "jetmesh_events_acked_total"),
    dlq: v("route", "jetmesh_events_dlq_total"),
    ackLatencyCount: v("route", "jetmesh_publish_ack_seconds_count"),
    pending: v("route", "jetmesh_consumer_num_pending", { stream: "INGEST", consumer: "route-0" }),
    ackPending: v("route", "jetmesh_consumer_num_ack_pending", {
      stream: "INGEST",
      consumer: "route-0",
    }),
    dlqStream: v("route", "jetmesh_stream_messages", { stream: "DLQ" }),
  }, {
    received: 21,
    redelivered: 0,
    published: 21,
    acked: 21,
    dlq: 0,
    ackLatencyCount: 21,
    pending: 0,
    ackPending: 0,
    dlqStream: 0,
  }, "route");
  t.same(
    {
      received: v("persist", "jetmesh_events_received_total"),
      acked: v("persist", "jetmesh_events_acked_total"),
      rows: v("persist", "jetmesh_db_batch_rows_sum"),
      dbErrors: v("persist", "jetmesh_db_errors_total"),
      pending: v("persist", "jetmesh_consumer_num_pending", {
        stream: "EVENTS",
        consumer: "persist",
      }),
      ackPending: v("persist", "jetmesh_consumer_num_ack_pending", {
        stream: "EVENTS",
        consumer: "persist",
      }),
    },
    { received: 21, acked: 21, rows: 21, dbErrors: 0, pending: 0, ackPending: 0 },
    "persist",
  );
  const batches = v("persist", "jetmesh_db_batch_rows_count")!;
  t.ok(batches >= 1 && batches <= 21, `persist wrote ${batches} batches`);
  t.equal(v("persist", "jetmesh_db_commit_seconds_count"), batches, "one commit timing per batch");
  t.same(
    {
      received: v("notify", "jetmesh_events_received_total"),
      delivered: v("notify", "jetmesh_events_delivered_total"),
      latencyCount: v("notify", "jetmesh_publish_to_deliver_seconds_count"),
      connections: v("notify", "jetmesh_ws_connections"),
      subscriptions: v("notify", "jetmesh_ws_subscriptions"),
    },
    { received: 21, delivered: 21, latencyCount: 21, connections: 1, subscriptions: 1 },
    "notify",
  );
  t.ok(
    v("notify", "jetmesh_publish_to_deliver_seconds_sum")! < 21 * 5,
    "publish→deliver latency is seconds at most, not a replay age",
  );

  for (const svc of SERVICE_NAMES) {
    t.ok(
      m[svc].every((s) => s.labels.service === svc),
      `${svc}: every series is labelled service="${svc}"`,
    );
    t.ok(v(svc, "process_cpu_seconds_total")! > 0, `${svc}: process metrics too`);
  }

  // Subscriptions and connections go back down when the subscriber leaves.
  await sub.close();
  await eventually("notify has no connection left", async () => {
    const s = (await scrape(stack, "notify")).samples;
    return valueOf(s, "jetmesh_ws_connections") === 0 &&
      valueOf(s, "jetmesh_ws_subscriptions") === 0;
  });

  const lines =
    (await Promise.all(SERVICE_NAMES.map(async (s) => (await scrape(stack, s)).text.split("\n"))))
      .flat()
      .filter((l) => l.startsWith("jetmesh_") && !l.includes("_bucket{"));
  t.comment(`jetmesh_ series after the run (buckets left out):\n${lines.join("\n")}`);
});

t.test("/readyz follows NATS and PostgreSQL; /healthz stays up", async (t) => {
  const proxy = await startTcpProxy(
    Number(new URL(process.env.DATABASE_URL || "postgres://127.0.0.1:5432/test").port || 5432),
  );
  t.teardown(proxy.stop);
  const db = new URL(process.env.DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test");
  db.host = `127.0.0.1:${proxy.port}`;
  // A short connect timeout so a cut database is reported within the probe's time.
  const stack = await startStack({ DATABASE_URL: db.toString() });
  t.teardown(stack.stop);

  for (const svc of SERVICE_NAMES) {
    const r = await ready(stack, svc);
    const expected = svc === "persist" || svc === "notify"
      ? { nats: "ok", streams: "ok", database: "ok" }
      : { nats: "ok", streams: "ok" };
    t.same([r.status, r.body.status, r.body.checks], [200, "ready", expected], `${svc} ready`);
  }

  await proxy.cut();
  for (const svc of ["persist", "notify"] as const) {
    await eventually(
      `${svc} not ready without its database`,
      async () => (await ready(stack, svc)).status === 503,
    );
    const r = await ready(stack, svc);
    t.equal(r.body.checks.nats, "ok");
    t.not(
      r.body.checks.database,
      "ok",
      `${svc}: database check says why: ${r.body.checks.database}`,
    );
  }
  for (const svc of ["ingest", "route"] as const) {
    t.equal((await ready(stack, svc)).status, 200, `${svc} does not need the database`);
  }
  await proxy.restore();
  for (const svc of ["persist", "notify"] as const) {
    await eventually(`${svc} ready again`, async () => (await ready(stack, svc)).status === 200);
  }
  t.pass("database back: ready again");

  stack.nats.kill("SIGKILL");
  await stack.nats.exited();
  for (const svc of SERVICE_NAMES) {
    await eventually(
      `${svc} not ready without NATS`,
      async () => (await ready(stack, svc)).status === 503,
    );
    const r = await ready(stack, svc);
    t.not(r.body.checks.nats, "ok", `${svc}: ${r.body.checks.nats}`);
    const health = await fetch(`${stack.opsUrl(svc)}/healthz`);
    t.equal(health.status, 200, `${svc}: /healthz still 200 (alive, not ready)`);
    t.equal(
      valueOf((await scrape(stack, svc)).samples, "jetmesh_nats_connected"),
      0,
      `${svc}: jetmesh_nats_connected 0`,
    );
  }
  await stack.nats.restart();
  for (const svc of SERVICE_NAMES) {
    await eventually(
      `${svc} ready after NATS came back`,
      async () => (await ready(stack, svc)).status === 200,
      30_000,
    );
  }
  t.pass("NATS back: every service ready again");
});

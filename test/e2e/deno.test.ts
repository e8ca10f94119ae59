import t from "tap";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { migrateAsAdmin, natsUsers } from "../../devkit/nats-users.ts";
import { testDatabase } from "../../devkit/test-db.ts";
import { startOtlpReceiver } from "../../devkit/otlp-receiver.ts";
import { freePorts } from "../../devkit/ports.ts";
import { SERVICE_NAMES } from "../../devkit/catalog.ts";
import { ServiceLauncher } from "../../devkit/launcher.ts";
import { backingEnv, listenEnv } from "../../devkit/service-env.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";
import { TestClient } from "../../devkit/test-client.ts";

t.test("the four services run under Deno: publish, route, persist, deliver, history, traces, metrics", async (t) => {
  const users = natsUsers();
  const nats = await startNatsServer(users.server);
  t.teardown(() => nats.stop());
  const db = await testDatabase();
  t.teardown(() => db.drop());
  const rx = await startOtlpReceiver();
  t.teardown(rx.stop);
  const [ingestPort, notifyPort, routePort, persistPort, ingestOpsPort, notifyOpsPort] =
    await freePorts(6);
  // As deployed: JWT auth on, so Deno verifies tokens (WebCrypto) and serves the async upgrade.
  const auth = jwtAuth();
  const env = {
    ...auth.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
    ...backingEnv([nats.url], db),
    ...listenEnv(
      { ingest: ingestPort, notify: notifyPort, route: routePort, persist: persistPort },
      { ingest: ingestOpsPort, notify: notifyOpsPort },
    ),
  };
  // As deployed: the migration as admin, then each service as its own NATS user.
  await migrateAsAdmin([nats.url], env, users.admin);
  const services = new ServiceLauncher({
    env,
    own: (name) => users.serviceEnv(name),
    runtime: "deno",
    attempts: 1,
  });
  t.teardown(() => services.stopAll());
  await services.startAll();

  const token = await mintToken(auth.secret, "d", { publish: ["deno.>"], subscribe: ["deno.>"] });
  const refused = await TestClient.open(`ws://127.0.0.1:${notifyPort}/v1/ws`).then(
    () => "opened",
    (e: Error) => e.message,
  );
  t.equal(refused, "upgrade refused: 401", "no token, no connection");
  const sub = await TestClient.open(`ws://127.0.0.1:${notifyPort}/v1/ws?token=${token}`);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "deno.>" });
  await sub.next((f) => f.op === "subscribed");
  const pub = await TestClient.open(`ws://127.0.0.1:${ingestPort}/v1/ws?token=${token}`);
  t.teardown(() => pub.close());
  for (let i = 0; i < 20; i++) {
    pub.sendJson({ op: "pub", id: `e${i}`, channel: "deno.test", data: i });
  }
  await pub.until((fs) => fs.length >= 20, 15_000, "acks");
  t.equal(pub.ofOp("ack").length, 20, "20 acks");
  await sub.until((fs) => fs.filter((f) => f.op === "event").length >= 20, 15_000, "events");
  t.same(
    sub.ofOp("event").map((f) => f.data),
    Array.from({ length: 20 }, (_, i) => i),
    "delivered in order",
  );

  let stored = 0;
  for (let i = 0; i < 100 && stored < 20; i++) {
    const page = await (await fetch(`http://127.0.0.1:${notifyPort}/v1/history?channel=deno.test`, {
      headers: { authorization: `Bearer ${token}` },
    })).json();
    stored = page.events.length;
    if (stored < 20) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(stored, 20, "history serves what persist stored");

  for (const port of [ingestOpsPort, routePort, persistPort, notifyOpsPort]) {
    t.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200, `:${port} /readyz`);
    t.match(
      await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      /^jetmesh_events_received_total\{service="\w+"\} 20$/m,
      `:${port} /metrics`,
    );
  }

  for (const name of SERVICE_NAMES) {
    t.equal(await services.stop(name, "SIGTERM"), 0, `${name} stops cleanly on SIGTERM`);
  }
  // Stopping flushes the spans: one event's trace, linked hop to hop, from all four.
  const spans = rx.spans.filter((x) => x.attributes["jetmesh.event.id"] === "d:e7");
  const by = (name: string) => spans.find((x) => x.name === name)!;
  t.same(spans.map((x) => x.service).sort(), [
    "jetmesh-ingest",
    "jetmesh-notify",
    "jetmesh-persist",
    "jetmesh-route",
  ], "a span from every service");
  t.equal(new Set(spans.map((x) => x.traceId)).size, 1, "in one trace");
  t.equal(by("route relay").parentSpanId, by("ingest publish").spanId);
  t.equal(by("persist write").parentSpanId, by("route relay").spanId);
  t.equal(by("notify deliver").parentSpanId, by("route relay").spanId);
});

// The real pipeline (four services, nats-server, PostgreSQL) exporting traces
// over OTLP/HTTP to a receiver this test runs: every event must come out as
// one trace in which ingest → route → persist and route → each notify
// delivery are linked parent to child.
import postgres from "postgres";
import t from "tap";
import { type CollectedSpan, startOtlpReceiver } from "../../devkit/otlp-receiver.ts";
import { TestClient } from "../../devkit/test-client.ts";
import { startStack } from "../../devkit/in-process-stack.ts";

// Export every 100 ms instead of every 5 s (the BatchSpanProcessor reads this standard variable).
process.env.OTEL_BSP_SCHEDULE_DELAY = "100";

const CHANNEL = "trace.room";
const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN = "00f067aa0ba902b7";

function byName(spans: CollectedSpan[], name: string): CollectedSpan[] {
  return spans.filter((s) => s.name === name);
}

/** The event's spans as an indented tree, as they were exported. */
function tree(spans: CollectedSpan[]): string {
  const lines: string[] = [];
  const walk = (parent: string, depth: number) => {
    for (
      const s of spans.filter((x) => x.parentSpanId === parent).sort((a, b) =>
        Number(a.startNs - b.startNs)
      )
    ) {
      const ms = (Number(s.endNs - s.startNs) / 1e6).toFixed(2);
      const a = s.attributes;
      const where = `${a["jetmesh.stream"]}#${a["jetmesh.stream.seq"] ?? "?"}` +
        (a["jetmesh.out.seq"] ? ` → EVENTS#${a["jetmesh.out.seq"]}` : "");
      const extra = a["jetmesh.subscription"] ? ` sub=${a["jetmesh.subscription"]}` : "";
      lines.push(
        `${"  ".repeat(depth)}${s.name} [${s.service}] span=${s.spanId} ${where} deliveries=${
          a["jetmesh.delivery_count"] ?? "-"
        }${extra} ${ms} ms`,
      );
      walk(s.spanId, depth + 1);
    }
  };
  const ids = new Set(spans.map((s) => s.spanId));
  const roots = new Set(spans.filter((s) => !ids.has(s.parentSpanId)).map((s) => s.parentSpanId));
  for (const r of roots) {
    lines.push(
      r === "" ? `trace ${spans[0].traceId}` : `trace ${spans[0].traceId} (client span ${r})`,
    );
    walk(r, 1);
  }
  return lines.join("\n");
}

t.test("one trace per event: ingest → route → persist, route → every notify delivery", async (t) => {
  const rx = await startOtlpReceiver();
  t.teardown(rx.stop);
  const stack = await startStack({
    OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
    JETMESH_TRACE_SAMPLE_RATIO: "1",
  });
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());

  // Three subscriptions reach every event: two on the channel, one on a pattern.
  const subscribers: TestClient[] = [];
  for (const channel of [CHANNEL, CHANNEL, "trace.*"]) {
    const c = await TestClient.open(stack.notifyWs);
    t.teardown(() => c.close());
    c.sendJson({ op: "sub", channel });
    await c.next((f) => f.op === "subscribed");
    subscribers.push(c);
  }

  const pub = await TestClient.open(`${stack.ingestWs}?publisher=tracer`);
  t.teardown(() => pub.close());
  for (let i = 0; i < 3; i++) {
    pub.sendJson({ op: "pub", id: `ws-${i}`, channel: CHANNEL, data: { i } });
  }
  pub.sendJson({
    op: "pub",
    id: "ws-client",
    channel: CHANNEL,
    data: {},
    traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
  });
  await pub.until((fs) => fs.filter((f) => f.op === "ack").length === 4, 15_000, "4 acks");
  const httpTrace = "5bf92f3577b34da6a3ce929d0e0e4737";
  const res = await fetch(`${stack.ingestHttp}/v1/publish?publisher=tracer`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      traceparent: `00-${httpTrace}-${CLIENT_SPAN}-01`,
    },
    body: JSON.stringify({ id: "http-1", channel: CHANNEL, data: {} }),
  });
  t.equal(res.status, 200);
  const acks = new Map(pub.ofOp("ack").map((a) => [`tracer:${a.id}`, Number(a.seq)]));
  acks.set("tracer:http-1", Number(((await res.json()) as { seq: number }).seq));

  const ids = [...acks.keys()];
  for (const c of subscribers) {
    await c.until(
      (fs) => fs.filter((f) => f.op === "event").length >= ids.length,
      15_000,
      "events",
    );
  }
  const perEvent = (spans: CollectedSpan[], id: string) =>
    spans.filter((s) => s.attributes["jetmesh.event.id"] === id);
  await rx.waitFor((spans) => ids.every((id) => perEvent(spans, id).length >= 6), 20_000);
  // Late or duplicate exports would show up as extra spans: give them a moment.
  await new Promise((r) => setTimeout(r, 300));

  const eventTraces = new Set<string>();
  for (const id of ids) {
    const spans = perEvent(rx.spans, id);
    const traces = new Set(spans.map((s) => s.traceId));
    t.equal(traces.size, 1, `${id}: all its spans are in one trace`);
    const [trace] = traces;
    eventTraces.add(trace);
    const [ingest, ...moreIngest] = byName(spans, "ingest publish");
    const [route, ...moreRoute] = byName(spans, "route relay");
    const [persist, ...morePersist] = byName(spans, "persist write");
    const notify = byName(spans, "notify deliver");
    t.same(
      [moreIngest.length, moreRoute.length, morePersist.length, notify.length],
      [0, 0, 0, 3],
      `${id}: one ingest, route, persist span; three deliveries`,
    );
    t.same([ingest.service, route.service, persist.service, ...notify.map((s) => s.service)], [
      "jetmesh-ingest",
      "jetmesh-route",
      "jetmesh-persist",
      "jetmesh-notify",
      "jetmesh-notify",
      "jetmesh-notify",
    ], `${id}: each span exported by its own service`);
    t.equal(route.parentSpanId, ingest.spanId, `${id}: route is a child of ingest`);
    t.equal(persist.parentSpanId, route.spanId, `${id}: persist is a child of route`);
    t.ok(
      notify.every((n) => n.parentSpanId === route.spanId),
      `${id}: every delivery is a child of route`,
    );
    t.same(
      new Set(notify.map((n) => n.attributes["jetmesh.subscription"])),
      new Set([CHANNEL, "trace.*"]),
    );

    const seq = acks.get(id);
    t.same([ingest.attributes["jetmesh.stream"], ingest.attributes["jetmesh.stream.seq"]], [
      "INGEST",
      seq,
    ], `${id}: ingest span has the INGEST seq the client was acked`);
    t.same([
      route.attributes["jetmesh.stream"],
      route.attributes["jetmesh.stream.seq"],
      route.attributes["jetmesh.delivery_count"],
    ], ["INGEST", seq, 1]);
    const eventsSeq = route.attributes["jetmesh.out.seq"];
    t.ok(typeof eventsSeq === "number" && eventsSeq > 0, `${id}: route span has the EVENTS seq`);
    for (const s of [persist, ...notify]) {
      t.same([
        s.attributes["jetmesh.stream"],
        s.attributes["jetmesh.stream.seq"],
        s.attributes["jetmesh.delivery_count"],
      ], ["EVENTS", eventsSeq, 1]);
      t.equal(s.attributes["jetmesh.channel"], CHANNEL);
    }
    t.equal(
      persist.attributes["jetmesh.batch.size"] !== undefined,
      true,
      `${id}: persist span has its batch size`,
    );
    t.ok(spans.every((s) => s.statusCode !== 2), `${id}: no span failed`);

    if (id === "tracer:ws-client") {
      t.equal(trace, CLIENT_TRACE, "a pub frame's traceparent: the event joins the client's trace");
      t.equal(
        ingest.parentSpanId,
        CLIENT_SPAN,
        "and ingest's span is a child of the client's span",
      );
    } else if (id === "tracer:http-1") {
      t.equal(trace, httpTrace, "the HTTP traceparent header: the event joins the caller's trace");
      t.equal(ingest.parentSpanId, CLIENT_SPAN);
    } else {
      t.equal(ingest.parentSpanId, "", `${id}: without client context, ingest starts the trace`);
    }
    if (id === "tracer:ws-0") t.comment(`span tree of ${id}, as exported:\n${tree(spans)}`);
  }
  t.equal(eventTraces.size, ids.length, "one trace per event, none shared");
  t.same(
    new Set(rx.spans.map((s) => s.traceId)),
    eventTraces,
    "no span outside the events' traces",
  );

  const [{ count }] = await sql`select count(*)::int as count from ${sql(stack.db.schema)}.events`;
  t.equal(count, ids.length, "every event stored");
});

t.test("sampling ratio 0: no spans, and the events still flow", async (t) => {
  const rx = await startOtlpReceiver();
  t.teardown(rx.stop);
  const stack = await startStack({
    OTEL_EXPORTER_OTLP_ENDPOINT: rx.url,
    JETMESH_TRACE_SAMPLE_RATIO: "0",
  });
  t.teardown(stack.stop);
  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: CHANNEL });
  await sub.next((f) => f.op === "subscribed");
  const pub = await TestClient.open(`${stack.ingestWs}?publisher=tracer`);
  t.teardown(() => pub.close());
  for (let i = 0; i < 5; i++) {
    pub.sendJson({ op: "pub", id: `s-${i}`, channel: CHANNEL, data: { i } });
  }
  await sub.until((fs) => fs.filter((f) => f.op === "event").length === 5, 15_000, "5 events");
  await new Promise((r) => setTimeout(r, 500));
  t.equal(rx.spans.length, 0, "an unsampled trace is not recorded by any hop");
});

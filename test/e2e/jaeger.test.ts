// The real pipeline exporting to a real Jaeger (the pinned .tools/bin/jaeger
// with infra/local/jaeger.yaml, on free ports), and each event's trace read
// back the way a person finds it: a search in Jaeger's HTTP query API by the
// event id, the same request the UI's search page makes.
import t from "tap";
import { toolMissingReason } from "../../infra/tools/tools.ts";
import {
  type JaegerSpan,
  type JaegerTrace,
  startJaeger,
  traceSearchPath,
  waitForTraces,
} from "../helpers/jaeger.ts";
import { TestClient } from "../../devkit/test-client.ts";
import { startStack } from "../../devkit/in-process-stack.ts";

// Export every 100 ms instead of every 5 s (the BatchSpanProcessor reads this standard variable).
process.env.OTEL_BSP_SCHEDULE_DELAY = "100";

const CHANNEL = "jaeger.room";
const CLIENT_TRACE = "6bf92f3577b34da6a3ce929d0e0e4738";
const CLIENT_SPAN = "10f067aa0ba902b8";
const SERVICES = ["jetmesh-ingest", "jetmesh-notify", "jetmesh-persist", "jetmesh-route"];

const serviceOf = (tr: JaegerTrace, s: JaegerSpan) => tr.processes[s.processID]?.serviceName;
const parentOf = (s: JaegerSpan) =>
  s.references.find((r) => r.refType === "CHILD_OF")?.spanID ?? "";
const tag = (s: JaegerSpan, key: string) => s.tags.find((x) => x.key === key)?.value;

/** The trace as the query API returned it, indented by parent. */
function tree(tr: JaegerTrace): string {
  const lines = [`trace ${tr.traceID}`];
  const ids = new Set(tr.spans.map((s) => s.spanID));
  const walk = (parent: string, depth: number) => {
    for (
      const s of tr.spans.filter((x) => parentOf(x) === parent).sort((a, b) =>
        a.startTime - b.startTime
      )
    ) {
      const from = depth === 1 && parent !== "" ? ` (child of client span ${parent})` : "";
      lines.push(
        `${"  ".repeat(depth)}${s.operationName} [${serviceOf(tr, s)}] span=${s.spanID}${from} ${
          (s.duration / 1000).toFixed(2)
        } ms`,
      );
      walk(s.spanID, depth + 1);
    }
  };
  for (const root of new Set(tr.spans.map(parentOf).filter((p) => !ids.has(p)))) walk(root, 1);
  return lines.join("\n");
}

/** Whole once the four hops' spans are stored (Jaeger stores each service's export as it comes). */
const whole = (traces: JaegerTrace[]) =>
  traces.length === 1 &&
  ["ingest publish", "route relay", "persist write", "notify deliver"].every((n) =>
    traces[0].spans.some((s) => s.operationName === n)
  );

t.test(
  "a real Jaeger's query API returns each event's trace: ingest → route → persist and notify",
  { timeout: 90_000 },
  async (t) => {
    const missing = toolMissingReason("jaeger");
    if (missing) {
      // Not a skip: without Jaeger this test checks nothing, and that must show.
      t.fail(`no Jaeger to test against:\n${missing}`);
      return;
    }
    const jaeger = await startJaeger();
    t.teardown(() => jaeger.stop());
    const stack = await startStack({
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl,
      JETMESH_TRACE_SAMPLE_RATIO: "1",
    });
    t.teardown(stack.stop);

    const sub = await TestClient.open(stack.notifyWs);
    t.teardown(() => sub.close());
    sub.sendJson({ op: "sub", channel: CHANNEL });
    await sub.next((f) => f.op === "subscribed");

    // One event that starts its trace at ingest, one that joins its caller's trace.
    const pub = await TestClient.open(`${stack.ingestWs}?publisher=jaeger`);
    t.teardown(() => pub.close());
    pub.sendJson({ op: "pub", id: "ws-1", channel: CHANNEL, data: { n: 1 } });
    await pub.next((f) => f.op === "ack");
    const res = await fetch(`${stack.ingestHttp}/v1/publish?publisher=jaeger`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
      },
      body: JSON.stringify({ id: "http-1", channel: CHANNEL, data: { n: 2 } }),
    });
    t.equal(res.status, 200, "HTTP publish accepted");
    await sub.until(
      (fs) => fs.filter((f) => f.op === "event").length === 2,
      15_000,
      "2 events delivered",
    );

    for (const id of ["jaeger:ws-1", "jaeger:http-1"]) {
      const search = { service: "jetmesh-ingest", tags: { "jetmesh.event.id": id } };
      const traces = await waitForTraces(jaeger, search, whole);
      if (
        !t.ok(
          whole(traces),
          `${id}: GET ${traceSearchPath(search)} finds one trace with all four hops`,
          { traces: traces.length, got: traces.map(tree), jaeger: jaeger.logTail().slice(-2000) },
        )
      ) continue;
      // Late exports (notify's, persist's after its commit) would add spans: let them
      // land, then read the trace by id.
      await new Promise((r) => setTimeout(r, 300));
      const [tr] =
        (await jaeger.api<{ data: JaegerTrace[] }>(`/api/traces/${traces[0].traceID}`)).data;
      t.comment(`${id} as Jaeger returns it:\n${tree(tr)}`);

      t.same(
        [...new Set(tr.spans.map((s) => serviceOf(tr, s)))].sort(),
        SERVICES,
        `${id}: spans from the four services`,
      );
      const named = (n: string) => tr.spans.filter((s) => s.operationName === n);
      t.same(
        ["ingest publish", "route relay", "persist write", "notify deliver"].map((n) =>
          named(n).length
        ),
        [1, 1, 1, 1],
        `${id}: one span per hop (one subscription)`,
      );
      const [ingest] = named("ingest publish");
      const [route] = named("route relay");
      const [persist] = named("persist write");
      const [notify] = named("notify deliver");
      t.same([ingest, route, persist, notify].map((s) => serviceOf(tr, s)), [
        "jetmesh-ingest",
        "jetmesh-route",
        "jetmesh-persist",
        "jetmesh-notify",
      ], `${id}: each span from its own service`);
      t.ok(
        tr.spans.every((s) => tag(s, "jetmesh.event.id") === id),
        `${id}: every span carries jetmesh.event.id`,
      );

      if (id === "jaeger:http-1") {
        t.equal(
          tr.traceID,
          CLIENT_TRACE,
          "the HTTP traceparent: the event is in the caller's trace",
        );
        t.same(ingest.references, [{
          refType: "CHILD_OF",
          traceID: CLIENT_TRACE,
          spanID: CLIENT_SPAN,
        }], "ingest publish is a child of the caller's span");
      } else {
        t.same(ingest.references, [], `${id}: ingest publish is the root`);
      }
      t.equal(parentOf(route), ingest.spanID, `${id}: route relay is a child of ingest publish`);
      t.equal(parentOf(persist), route.spanID, `${id}: persist write is a child of route relay`);
      t.equal(parentOf(notify), route.spanID, `${id}: notify deliver is a child of route relay`);
      t.same(
        [
          tag(notify, "jetmesh.subscription"),
          tag(persist, "jetmesh.stream"),
          tag(route, "jetmesh.out.seq"),
        ],
        [CHANNEL, "EVENTS", tag(persist, "jetmesh.stream.seq")],
        `${id}: persist and notify read the EVENTS message route wrote`,
      );
    }
    const services = (await jaeger.api<{ data: string[] }>("/api/services")).data;
    t.same(
      [...services].sort(),
      SERVICES,
      "Jaeger knows the four services and nothing else (its own tracing is off)",
    );
  },
);

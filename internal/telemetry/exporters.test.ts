import t from "tap";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { createLogger } from "../log/mod.ts";
import { startOtlpReceiver } from "../../devkit/otlp-receiver.ts";
import { SpanKind, startTracing } from "./mod.ts";

const quiet = createLogger({ svc: "test" }, { level: "error", sink: () => {} });

t.test("no exporter configured: no tracing object at all", async (t) => {
  t.equal(
    await startTracing("x", {
      exporter: "none",
      endpoint: "http://localhost:4318/v1/traces",
      sampleRatio: 1,
    }, quiet),
    undefined,
  );
});

t.test("otlp: spans reach an OTLP/HTTP receiver under the service's name", async (t) => {
  const rx = await startOtlpReceiver();
  t.teardown(rx.stop);
  const tracing = await startTracing("unit", {
    exporter: "otlp",
    endpoint: `${rx.url}/v1/traces`,
    sampleRatio: 1,
  }, quiet);
  tracing!.start("unit span", SpanKind.INTERNAL, undefined, { "jetmesh.event.id": "p:1" }).end();
  await tracing!.shutdown();
  t.same(rx.spans.map((s) => [s.service, s.name, s.attributes["jetmesh.event.id"]]), [[
    "jetmesh-unit",
    "unit span",
    "p:1",
  ]]);
});

t.test("jaeger (deprecated exporter, for old collectors): thrift over HTTP to the collector endpoint", async (t) => {
  const posts: Array<{ url?: string; headers: IncomingHttpHeaders; bytes: number }> = [];
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on("data", (c: Buffer) => (bytes += c.length));
    req.on("end", () => {
      posts.push({ url: req.url, headers: req.headers, bytes });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const tracing = await startTracing("unit", {
    exporter: "jaeger",
    endpoint: `http://127.0.0.1:${port}/api/traces`,
    sampleRatio: 1,
  }, quiet);
  tracing!.start("unit span", SpanKind.INTERNAL, undefined, {}).end();
  await tracing!.shutdown();
  t.equal(posts.length, 1, "one batch posted");
  t.equal(posts[0].url, "/api/traces");
  t.match(String(posts[0].headers["content-type"]), /thrift/);
  t.ok(posts[0].bytes > 0);
});

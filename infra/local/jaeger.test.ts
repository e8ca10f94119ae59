// `make run-local` with Jaeger installed (a stand-in here: no Jaeger binary on
// the build machines). Its own file: a --smoke run takes most of a test
// file's time budget on a loaded machine.
import t from "tap";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { runLocal as run } from "../../test/helpers/run-local.ts";
import { canListen, findExecutable } from "./supervisor.ts";

/**
 * Stands in for Jaeger: serves a page on 16686 and takes OTLP/HTTP JSON on
 * 4318 (Jaeger's defaults), writing what it received to $FAKE_JAEGER_OUT.
 */
const FAKE_JAEGER = `#!${process.execPath}
const http = require("node:http");
const fs = require("node:fs");
const seen = { spans: 0, services: [] };
http.createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    for (const rs of JSON.parse(body).resourceSpans || []) {
      const name = (rs.resource.attributes.find((a) => a.key === "service.name") || { value: {} }).value.stringValue;
      if (!seen.services.includes(name)) seen.services.push(name);
      for (const ss of rs.scopeSpans || []) seen.spans += (ss.spans || []).length;
    }
    fs.writeFileSync(process.env.FAKE_JAEGER_OUT, JSON.stringify(seen));
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
}).listen(4318, "127.0.0.1");
http.createServer((req, res) => res.end("jaeger ui")).listen(16686, "127.0.0.1");
`;

t.test("--smoke with a jaeger binary on PATH: started, UI address printed, the services' traces reach it", {
  skip: !findExecutable("nats-server") && "nats-server missing",
  timeout: 110_000,
}, async (t) => {
  if (!(await canListen(16686, "127.0.0.1")) || !(await canListen(4318, "127.0.0.1"))) {
    t.comment("ports 16686/4318 are in use here: nothing to check");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "jm-fake-jaeger-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "jaeger"), FAKE_JAEGER);
  chmodSync(join(dir, "jaeger"), 0o755);
  const out = join(dir, "received.json");
  const r = await run(["--smoke"], {
    NATS_URL: "",
    DATABASE_URL: "",
    RUN_LOCAL_LOG: "json",
    PATH: `${dir}${delimiter}${process.env.PATH}`,
    FAKE_JAEGER_OUT: out,
  });
  t.equal(r.code, 0, "exit 0", { output: r.out.split("\n").slice(-40).join("\n") });
  t.match(r.out, /Jaeger UI http:\/\/localhost:16686 \(jaeger; the services send traces to http:\/\/127\.0\.0\.1:4318\)/);
  t.match(r.out, /smoke: OK publish → history/);
  t.ok(existsSync(out), "the fake Jaeger received exports");
  const seen = JSON.parse(readFileSync(out, "utf8")) as { spans: number; services: string[] };
  t.ok(seen.spans >= 3, `spans received: ${seen.spans}`);
  t.same(seen.services.filter((s) => ["jetmesh-ingest", "jetmesh-route", "jetmesh-persist"].includes(s)).sort(), ["jetmesh-ingest", "jetmesh-persist", "jetmesh-route"], "from the services the event went through");
});

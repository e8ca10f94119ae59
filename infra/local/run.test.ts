import t from "tap";
import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { runLocal as run } from "../../devkit/run-local.ts";
import { findNatsServer } from "../../devkit/nats-server.ts";
import { formatLogLine } from "../../devkit/local-stack/console.ts";
import { pickPort } from "../../devkit/ports.ts";

t.test("formatLogLine makes service JSON lines readable", async (t) => {
  const line = JSON.stringify({
    ts: "2026-01-02T03:04:05.678Z",
    level: "info",
    msg: "nats connected",
    service: "ingest",
    server: "127.0.0.1:4222",
    n: 3,
    s: "a b",
  });
  t.equal(
    formatLogLine(line),
    '03:04:05.678 info  nats connected server=127.0.0.1:4222 n=3 s="a b"',
  );
  t.equal(formatLogLine(line, true), line, "raw mode keeps JSON");
  t.equal(formatLogLine("[123] plain text"), "[123] plain text");
  t.equal(formatLogLine("{not json"), "{not json");
});

t.test("pickPort keeps a free preferred port and moves off a taken one", async (t) => {
  const { port } = await pickPort(0);
  t.ok(port > 0);
  t.same(await pickPort(port), { port, moved: false });
});

t.test("missing nats-server: clear message, exit 1", async (t) => {
  const r = await run([], { NATS_URL: "", NATS_SERVER_BIN: "/nonexistent/nats-server" });
  t.equal(r.code, 1);
  t.match(r.out, "NATS_SERVER_BIN=/nonexistent/nats-server is not an executable file");
  t.match(r.out, "make tools", "says how to get one");
});

t.test("REPLICAS that run-local cannot run: clear message, exit 1, nothing started", async (t) => {
  const r = await run(["--smoke"], { NATS_URL: "", RUN_LOCAL_REPLICAS: "0" });
  t.equal(r.code, 1);
  t.match(r.out, "REPLICAS=0: a whole number from 1 to 6");
  t.notMatch(r.out, /\[(nats|ingest|route|persist|notify)/, "nothing was started");
});

t.test("an external NATS_URL: no server or users of its own, and the migration must pass before any service starts", async (t) => {
  const r = await run(["--smoke"], {
    NATS_URL: "nats://127.0.0.1:1",
    MIGRATE_WAIT: "1s",
    DATABASE_URL: "",
  });
  t.equal(r.code, 1);
  t.match(
    r.out,
    "an external server, so no nats-server, users or nats CLI context are set up here",
  );
  t.match(r.out, /the migration \(cmd\/migrate\) failed: the services would find no streams/);
  t.notMatch(r.out, /\[(ingest|route|persist|notify)\]/, "no service was started");
});

t.test("--smoke: nats-server + embedded PGlite + 4 services, one event end to end", {
  skip: !findNatsServer() && !process.env.JETMESH_CI && "nats-server missing",
  timeout: 110_000,
}, async (t) => {
  const context = join(
    process.env.XDG_CONFIG_HOME ?? join(homedir(), ".config"),
    "nats/context/jetmesh-local.json",
  );
  const before = existsSync(context) ? statSync(context).mtimeMs : undefined;
  const r = await run(["--smoke"], { NATS_URL: "", DATABASE_URL: "", RUN_LOCAL_LOG: "json" });
  t.equal(r.code, 0, "exit 0", { output: r.out.split("\n").slice(-40).join("\n") });
  t.match(r.out, /"msg":"migration done"/, "the migration ran before the services");
  t.match(
    r.out,
    /nats --context jetmesh-local stream ls: DLQ EVENTS INGEST KV_jetmesh_presence KV_jetmesh_processing KV_jetmesh_seen/,
    "the nats CLI context works (admin)",
  );
  t.equal(
    existsSync(context) ? statSync(context).mtimeMs : undefined,
    before,
    "the developer's own jetmesh-local context is left alone",
  );
  t.notMatch(r.out, /Permissions Violation/, "no service was refused anything");
  t.match(r.out, /embedded PostgreSQL postgres:\/\//);
  t.match(r.out, /smoke: OK publish → history/);
  t.match(r.out, /JWT: HS256 secret generated into/, "under JWT");
  t.match(r.out, /smoke: OK no token, no subscription/, "an anonymous subscribe refused");
  t.match(
    r.out,
    /smoke: OK origins at ingest: http:\/\/127\.0\.0\.1:\d+ accepted, http:\/\/evil\.example refused 403/,
    "the page's origin only",
  );
  t.match(r.out, /\[local\]\s+stopped/);
});

t.test("--smoke with REPLICAS=2: two processes of every service, each its own ports, all stopped", {
  skip: !findNatsServer() && !process.env.JETMESH_CI && "nats-server missing",
  timeout: 110_000,
}, async (t) => {
  const r = await run(["--smoke"], {
    NATS_URL: "",
    DATABASE_URL: "",
    RUN_LOCAL_JAEGER: "0",
    RUN_LOCAL_REPLICAS: "2",
  });
  t.equal(r.code, 0, "exit 0", { output: r.out.split("\n").slice(-40).join("\n") });
  for (const label of ["ingest", "route", "persist", "notify"].flatMap((s) => [s, `${s}-1`])) {
    t.match(
      r.out,
      new RegExp(`\\[${label}\\]\\s+\\S+ info\\s+stopped `),
      `${label} ran and stopped`,
    );
  }
  t.notMatch(r.out, /\[\w+-2\]/, "no third replica");
  t.notMatch(r.out, /EADDRINUSE/, "no two on one port");
  t.match(r.out, /smoke: OK publish → history/);
});

// `make inspect` against a real stack: lag of a stopped worker, a parked
// event in DLQ, the streams, the notify subscriptions.
import t from "tap";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Report } from "../../internal/inspect/mod.ts";
import { defaultRoute, type RouteStep } from "../../internal/route/relay.ts";
import { TestClient } from "../../devkit/test-client.ts";
import { startStack } from "../../devkit/in-process-stack.ts";
import { DEFAULT_PARTITIONS, partitionOf, routeConsumerName } from "../../subjects/mod.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", "cmd/inspect/main.ts", ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let out = "";
    let err = "";
    p.stdout.on("data", (c: Buffer) => (out += c.toString()));
    p.stderr.on("data", (c: Buffer) => (err += c.toString()));
    p.on("exit", (code) => resolve({ code, out, err }));
  });
}

const failOnPoison: RouteStep = (env, now) => {
  if ((env.data as { poison?: boolean } | null)?.poison) throw new Error("cannot route poison");
  return defaultRoute(env, now);
};

t.test("streams, lag and DLQ as an operator sees them", async (t) => {
  const stack = await startStack({ ROUTE_MAX_ATTEMPTS: "1" }, { routeStep: failOnPoison });
  t.teardown(stack.stop);
  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "insp.>" });
  await sub.next((f) => f.op === "subscribed");
  const pub = await TestClient.open(`${stack.ingestWs}?publisher=p`);
  t.teardown(() => pub.close());
  pub.sendJson({ op: "pub", id: "a", channel: "insp.x", data: 1 });
  pub.sendJson({ op: "pub", id: "bad", channel: "insp.x", data: { poison: true } });
  await sub.until(
    (fs) => fs.filter((f) => f.op === "event").length === 1,
    15_000,
    "the good event",
  );
  // Persist stops: what route moves to EVENTS now waits for it.
  await stack.stopService("persist");
  for (let i = 0; i < 3; i++) {
    pub.sendJson({ op: "pub", id: `late-${i}`, channel: "insp.y", data: i });
  }
  await sub.until((fs) => fs.filter((f) => f.op === "event").length === 4, 15_000, "3 more events");

  const json = await run(["--json"], {
    NATS_URL: stack.nats.url,
    NATS_USER: "admin",
    NATS_PASSWORD: stack.admin!.pass,
  });
  t.equal(json.code, 0, json.err);
  const report = JSON.parse(json.out) as Report;
  t.same(report.streams.map((s) => [s.name, s.messages]), [["INGEST", 5], ["EVENTS", 4], [
    "DLQ",
    1,
  ]]);
  const durable = (name: string) => report.consumers.find((c) => c.durable && c.name === name);
  // One durable per partition; insp.y's holds the last of the five.
  t.match(durable(routeConsumerName(partitionOf("insp.y", DEFAULT_PARTITIONS))), {
    stream: "INGEST",
    pending: 0,
    ackPending: 0,
    deliveredSeq: 5,
    ackFloorSeq: 5,
  });
  t.equal(
    report.consumers.filter((c) => c.durable && c.stream === "INGEST" && c.ackPending === 0).length,
    DEFAULT_PARTITIONS,
    "every partition's durable caught up",
  );
  t.match(durable("persist"), {
    stream: "EVENTS",
    pending: 3,
    ackPending: 0,
    waiting: 0,
    ackFloorSeq: 1,
  }, "persist is 3 behind and not pulling");
  t.equal(
    report.consumers.filter((c) => !c.durable).length,
    1,
    "notify's shared consumer; the live subscription has none of its own",
  );
  t.same(report.dlq, { total: 1, bySubject: { "dlq.route.insp.x": 1 } });
  t.equal(
    report.seenIds,
    0,
    "no namespace has rules: route leaves jetmesh_seen empty (EVENTS' window is the horizon)",
  );

  const text = await run([], {
    NATS_URL: stack.nats.url,
    NATS_USER: "admin",
    NATS_PASSWORD: stack.admin!.pass,
  });
  t.equal(text.code, 0, text.err);
  t.match(text.out, /^stream\s+messages\s+bytes/m);
  t.match(
    text.out,
    /^EVENTS\/persist\s+3\s+0\s+0\s+0\s+1\s+1\s+behind, and not pulling: is the worker running\?$/m,
  );
  t.match(text.out, /^INGEST\/route-\d+\s+0\s+0\s+0\s+\d+\s+5\s+5\s+caught up$/m);
  t.match(
    text.out,
    /notify ordered consumers on EVENTS \(one per notify, one per subscription catching up\): 1/,
  );
  t.match(text.out, /DLQ: 1 event parked/);
  t.match(text.out, /^\s+dlq\.route\.insp\.x\s+1$/m);
  t.comment(`make inspect output:\n${text.out}`);

  const down = await run([], { NATS_URL: "nats://127.0.0.1:1" });
  t.equal(down.code, 1, "no NATS: exits 1 at once");
  t.match(down.err, /start failed/);
});

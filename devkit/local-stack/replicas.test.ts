import t from "tap";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MAX_REPLICAS, pidFileLabels, replicaCount, replicaPorts } from "./replicas.ts";
import { summaryLines } from "./summary.ts";

t.test("RUN_LOCAL_REPLICAS: 1 when unset, a whole number up to the limit", async (t) => {
  t.equal(replicaCount({}), 1);
  t.equal(replicaCount({ RUN_LOCAL_REPLICAS: "" }), 1, "make passes an empty REPLICAS");
  t.equal(replicaCount({ RUN_LOCAL_REPLICAS: "3" }), 3);
  for (const bad of ["0", "-1", "2.5", "x", String(MAX_REPLICAS + 1)]) {
    t.match(replicaCount({ RUN_LOCAL_REPLICAS: bad }), /a whole number from 1 to/, bad);
  }
});

t.test("replica i listens on each port of replica 0 + 100 × i; --smoke on free ones", async (t) => {
  const ports = await replicaPorts({ NOTIFY_PORT: "18081" }, 3, false);
  t.same(ports.get("notify-1"), { NOTIFY_PORT: "18181", NOTIFY_OPS_PORT: "9191" });
  t.same(ports.get("notify-2"), { NOTIFY_PORT: "18281", NOTIFY_OPS_PORT: "9291" });
  t.same(ports.get("route-2"), { ROUTE_PORT: "8282" }, "route has one port");
  t.notOk(ports.has("notify") || ports.has("notify-3"), "replica 0 as a single process; 3 in all");
  t.equal((await replicaPorts({}, 1, false)).size, 0, "one replica: nothing to place");
  const free = [...(await replicaPorts({}, 2, true)).values()].flatMap((v) => Object.values(v));
  t.equal(free.length, 6, "ingest and notify two ports each, route and persist one");
  const offsets = ["8180", "9190", "8181", "9191", "8182", "8183"];
  t.ok(free.every((p) => Number(p) > 0 && !offsets.includes(p)), "free ports, not offsets");
});

t.test("the pid files of an earlier run name its replicas", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jm-pids-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ["notify.pid", "notify-1.pid", "notify-12.pid", "nats.pid", "notifyx.pid"]) {
    writeFileSync(join(dir, f), "1\n");
  }
  t.same(pidFileLabels(dir, "notify").sort(), ["notify", "notify-1", "notify-12"]);
  t.same(pidFileLabels(dir, "route"), []);
});

t.test("the summary lists every replica's ports only when there are several", async (t) => {
  const base = {
    healthy: [true, true, true, true],
    ingestPort: 8080,
    notifyPort: 8081,
    opsPortOf: () => 9090,
    natsUrl: "nats://127.0.0.1:4222",
    natsUsers: true,
    access: [],
    databaseUrl: "postgres://x",
    embeddedDatabase: true,
    traces: "off",
  };
  const two = summaryLines({
    ...base,
    replicas: [
      { name: "ingest", ports: [8080, 8180], ops: [9090, 9190] },
      { name: "route", ports: [8082, 8182], ops: [] },
    ],
  }).join("\n");
  t.match(two, "replicas 2 of each service (REPLICAS=2)");
  t.match(two, /ingest +8080 8180 +ops 9090 9190\n/);
  t.match(two, /route +8082 8182\n/);
  const one = summaryLines({ ...base, replicas: [{ name: "route", ports: [8082], ops: [] }] });
  t.notMatch(one.join("\n"), /replicas/);
});

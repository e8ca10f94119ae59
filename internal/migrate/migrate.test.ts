// The migration against a real nats-server with users.conf: creates, leaves
// alone, updates; and as `make migrate` runs it, a clear exit 1 when it cannot.
import t from "tap";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { AckPolicy, DiscardPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { migrateAsAdmin, natsUsers } from "../../devkit/nats-users.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

function runMain(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--import", "tsx", "cmd/migrate/main.ts"], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let out = "";
    p.stdout.on("data", (c: Buffer) => (out += c.toString()));
    p.stderr.on("data", (c: Buffer) => (out += c.toString()));
    p.on("exit", (code) => resolve({ code, out }));
  });
}

t.test("creates the streams and buckets, changes nothing the second time, follows a changed setting", async (t) => {
  const users = natsUsers();
  const ns = await startNatsServer(users.server);
  t.teardown(() => ns.stop());
  const first = await migrateAsAdmin([ns.url], {}, users.admin);
  t.same(first.map((s) => `${s.name} ${s.action}`), [
    "INGEST created",
    "EVENTS created",
    "DLQ created",
    "jetmesh_seen created",
    "jetmesh_presence created",
    "jetmesh_processing created",
  ]);
  const again = await migrateAsAdmin([ns.url], {}, users.admin);
  t.same(again.map((s) => s.action), [
    "unchanged",
    "unchanged",
    "unchanged",
    "unchanged",
    "unchanged",
    "unchanged",
  ], "idempotent");
  const changed = await migrateAsAdmin(
    [ns.url],
    { EVENTS_MAX_AGE: "1d", ROUTE_DEDUPE_TTL: "2h" },
    users.admin,
  );
  t.same(changed.filter((s) => s.action === "updated").map((s) => [s.name, s.changed]), [
    [
      "EVENTS",
      ["max_age", "duplicate_window"],
    ],
    ["DLQ", ["duplicate_window"]],
    ["jetmesh_seen", ["max_age"]],
  ]);
  const nc = await connect({ servers: ns.url, ...users.admin });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  t.equal((await jsm.streams.info("EVENTS")).config.max_age, 86_400e9);
  t.equal((await jsm.streams.info("KV_jetmesh_seen")).config.max_age, 7_200e9);
  t.equal(
    (await jsm.streams.info("EVENTS")).config.duplicate_window,
    7_200e9,
    "EVENTS' duplicate window is the dedupe horizon",
  );
  const limits = async () =>
    Promise.all(["INGEST", "EVENTS", "DLQ"].map(async (name) => {
      const { max_bytes, discard } = (await jsm.streams.info(name)).config;
      return [name, max_bytes, discard];
    }));
  t.same(await limits(), [["INGEST", 1024 ** 3, "new"], ["EVENTS", 5 * 1024 ** 3, "old"], [
    "DLQ",
    1024 ** 3,
    "new",
  ]], "every stream has max_bytes");

  // A stream made before max_bytes existed: no byte limit, discarding old messages.
  await jsm.streams.update("INGEST", { max_bytes: -1, discard: DiscardPolicy.Old });
  const bytes = {
    INGEST_MAX_BYTES: "2000000",
    EVENTS_MAX_BYTES: "3000000",
    DLQ_MAX_BYTES: "4000000",
    EVENTS_MAX_AGE: "1d",
    ROUTE_DEDUPE_TTL: "2h",
  };
  const updated = await migrateAsAdmin([ns.url], bytes, users.admin);
  t.same(updated.filter((s) => s.action === "updated").map((s) => [s.name, s.changed]), [
    ["INGEST", ["discard", "max_bytes"]],
    ["EVENTS", ["max_bytes"]],
    ["DLQ", ["max_bytes"]],
  ], "the update sets them");
  t.same(await limits(), [["INGEST", 2_000_000, "new"], ["EVENTS", 3_000_000, "old"], [
    "DLQ",
    4_000_000,
    "new",
  ]]);

  const main = await runMain({
    NATS_URL: ns.url,
    NATS_USER: "admin",
    NATS_PASSWORD: users.passwords.admin,
    ...bytes,
  });
  t.equal(main.code, 0, main.out);
  t.match(main.out, /"msg":"migration done".*"unchanged":6/, "one JSON line says what it did");

  const asService = await runMain({
    NATS_URL: ns.url,
    NATS_USER: "ingest",
    NATS_PASSWORD: users.passwords.ingest,
    ...bytes,
    EVENTS_MAX_AGE: "2d",
  });
  t.equal(asService.code, 1, "a service user cannot migrate");
  t.match(
    asService.out,
    /"msg":"migration failed".*run it as the admin user.*"code":"unauthorized"/,
  );
  t.equal((await jsm.streams.info("EVENTS")).config.max_age, 86_400e9, "and changed nothing");
});

t.test("max bytes the server cannot reserve fail the migration with the variables to change", async (t) => {
  const ns = await startNatsServer();
  t.teardown(() => ns.stop());
  const err = await migrateAsAdmin([ns.url], { EVENTS_MAX_BYTES: String(2 ** 52) }).catch((
    e: unknown,
  ) => e);
  t.match(err, {
    code: "bad_config",
    message:
      /^stream EVENTS: nats-server has no room for max_bytes=4503599627370496 \(insufficient storage resources available\); INGEST_MAX_BYTES \+ EVENTS_MAX_BYTES/,
  });
});

t.test("cmd/migrate exits 1 with a clear line: wrong password, no NATS", async (t) => {
  const users = natsUsers();
  const ns = await startNatsServer(users.server);
  t.teardown(() => ns.stop());
  const wrong = await runMain({ NATS_URL: ns.url, NATS_USER: "admin", NATS_PASSWORD: "guess" });
  t.equal(wrong.code, 1);
  t.match(wrong.out, /"msg":"migration failed".*NATS_USER=admin.*"code":"unauthorized"/);
  const down = await runMain({ NATS_URL: "nats://127.0.0.1:1", MIGRATE_WAIT: "1s" });
  t.equal(down.code, 1);
  t.match(
    down.out,
    /"msg":"migration failed".*did not answer within 1000 ms.*"code":"unavailable"/,
  );
});

t.test("partitions: P in INGEST's metadata; the old durable and a change of P only once drained", async (t) => {
  const users = natsUsers();
  const ns = await startNatsServer(users.server);
  t.teardown(() => ns.stop());
  await migrateAsAdmin([ns.url], {}, users.admin);
  const nc = await connect({ servers: ns.url, ...users.admin });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const metadata = async () => (await jsm.streams.info("INGEST")).config.metadata ?? {};
  t.equal((await metadata()).jetmesh_partitions, "16", "P defaults to 16");

  // A stream from before partitions, with the old single durable holding an event.
  const cfg = (await jsm.streams.info("INGEST")).config;
  await jsm.streams.update("INGEST", { ...cfg, metadata: {} });
  t.equal((await metadata()).jetmesh_partitions, undefined);
  await jsm.consumers.add("INGEST", {
    durable_name: "route",
    ack_policy: AckPolicy.Explicit,
    filter_subject: "ingest.>",
  });
  const js = jetstream(nc);
  await js.publish("ingest.chat.old", "e");
  const refused = await migrateAsAdmin([ns.url], {}, users.admin).catch((e: unknown) => e);
  t.match(refused, { code: "bad_config", message: /route \(1 pending, 0 unacked\).*drain/ });
  t.equal((await metadata()).jetmesh_partitions, undefined, "nothing changed");

  // Drained: the old durable goes, P is set.
  const old = await js.consumers.get("INGEST", "route");
  const m = await old.next();
  await m!.ackAck();
  const steps = await migrateAsAdmin([ns.url], {}, users.admin);
  t.same(
    steps.filter((s) => s.action !== "unchanged").map((s) => `${s.name} ${s.action}`),
    ["INGEST updated", "route deleted"],
  );
  t.equal((await metadata()).jetmesh_partitions, "16");

  // A change of P with a partition durable holding an event is refused; drained, it goes
  // through and the durables P no longer has are deleted.
  for (const p of [3, 12]) {
    await jsm.consumers.add("INGEST", {
      durable_name: `route-${p}`,
      ack_policy: AckPolicy.Explicit,
      filter_subject: `ingest.${p}.>`,
    });
  }
  await js.publish("ingest.12.x", "e");
  const busy = await migrateAsAdmin([ns.url], { JETMESH_PARTITIONS: "8" }, users.admin)
    .catch((e: unknown) => e);
  t.match(busy, { code: "bad_config", message: /16 → 8 refused.*route-12 \(1 pending/ });
  const m12 = await (await js.consumers.get("INGEST", "route-12")).next();
  await m12!.ackAck();
  const resized = await migrateAsAdmin([ns.url], { JETMESH_PARTITIONS: "8" }, users.admin);
  t.same(
    resized.filter((s) => s.action !== "unchanged").map((s) => `${s.name} ${s.action}`),
    ["INGEST updated", "route-12 deleted"],
  );
  t.equal((await metadata()).jetmesh_partitions, "8");
});

import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import t from "tap";
import { Presence } from "../../internal/notify/presence.ts";
import { PRESENCE_BUCKET } from "../../subjects/mod.ts";
import { createLogger } from "../../internal/log/mod.ts";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { migrateAsAdmin } from "../../devkit/nats-users.ts";
import { restartablePorts } from "../../devkit/ports.ts";
import { startStack } from "../../devkit/in-process-stack.ts";
import { type Frame, TestClient } from "../../devkit/test-client.ts";
import { spawnService } from "../../devkit/service-process.ts";

const TTL_MS = 2000;

const changes = (c: TestClient) =>
  c.frames.filter((f) => f.op === "member_joined" || f.op === "member_left").map((f) =>
    `${f.op === "member_joined" ? "+" : "-"}${f.member}`
  );

async function ask(c: TestClient, frame: Record<string, unknown>, op: string): Promise<Frame> {
  const n = c.frames.length;
  c.sendJson(frame);
  return await c.next((f) => f.op === op || f.op === "error", n);
}

t.test("presence across two notify processes: joins, leaves, several sessions, and a crashed notify's members expire", async (t) => {
  const stack = await startStack({ NOTIFY_PRESENCE_TTL: `${TTL_MS}ms` });
  t.teardown(stack.stop);
  const [port] = await restartablePorts(1);
  const env = { ...stack.serviceEnv("notify"), NOTIFY_PORT: String(port) };
  let other = spawnService("notify", env);
  t.teardown(() => other.stop("SIGKILL"));
  await other.waitForLog(/listening/);
  const otherWs = `ws://127.0.0.1:${port}/v1/ws`;

  const watcher = await TestClient.open(stack.notifyWs);
  t.teardown(() => watcher.close());
  t.same(await ask(watcher, { op: "presence", channel: "room", watch: true }, "presence"), {
    op: "presence",
    channel: "room",
    members: [],
  }, "nobody there yet");

  const alice = await TestClient.open(stack.notifyWs);
  t.same(await ask(alice, { op: "join", channel: "room", member: "alice" }, "joined"), {
    op: "joined",
    channel: "room",
    member: "alice",
  }, "join is answered");
  const bob = await TestClient.open(otherWs);
  await ask(bob, { op: "join", channel: "room", member: "bob" }, "joined");
  await watcher.until(() => changes(watcher).length >= 2, 5000, "two joins");
  t.same(changes(watcher), ["+alice", "+bob"], "the watcher sees members join on either notify");
  t.same((await ask(bob, { op: "presence", channel: "room" }, "presence")).members, [
    "alice",
    "bob",
  ], "the other notify answers the same list");

  const alice2 = await TestClient.open(otherWs);
  await ask(alice2, { op: "join", channel: "room", member: "alice" }, "joined");
  t.same(await ask(alice, { op: "leave", channel: "room" }, "left"), {
    op: "left",
    channel: "room",
  }, "leave is answered");
  await new Promise((r) => setTimeout(r, 300));
  t.same(
    changes(watcher),
    ["+alice", "+bob"],
    "alice stays while another of her sessions is there",
  );
  await alice2.close();
  await watcher.until(() => changes(watcher).length >= 3, 5000, "alice leaving");
  t.same(changes(watcher).at(-1), "-alice", "her last session closing takes her out");
  await alice.close();

  const killedAt = Date.now();
  await other.stop("SIGKILL");
  await watcher.until(() => changes(watcher).length >= 4, TTL_MS + 5000, "bob expiring");
  const after = Date.now() - killedAt;
  t.same(
    changes(watcher).at(-1),
    "-bob",
    `bob's entry expired ${after} ms after his notify was killed`,
  );
  t.ok(after < TTL_MS + 2000, "within the TTL and a sweep");

  other = spawnService("notify", env);
  await other.waitForLog(/listening/);
  const carol = await TestClient.open(otherWs);
  t.teardown(() => carol.close());
  await ask(carol, { op: "join", channel: "room", member: "carol" }, "joined");
  t.same(
    (await ask(carol, { op: "presence", channel: "room" }, "presence")).members,
    ["carol"],
    "the restarted notify shows no stale member",
  );
  await watcher.until(() => changes(watcher).length >= 5, 5000, "carol");
  t.same(
    changes(watcher),
    ["+alice", "+bob", "-alice", "-bob", "+carol"],
    "every change once, in order",
  );
  t.same(await ask(watcher, { op: "presence", channel: "room", watch: false }, "presence"), {
    op: "presence",
    channel: "room",
    members: ["carol"],
  }, "watch: false answers and stops");
  await ask(carol, { op: "leave", channel: "room" }, "left");
  await new Promise((r) => setTimeout(r, 300));
  t.equal(changes(watcher).length, 5, "no changes after the watch stopped");

  t.match(await ask(carol, { op: "join", channel: "room.*", member: "x" }, "joined"), {
    op: "error",
    code: "bad_channel",
  }, "presence takes concrete channels");
  t.match(await ask(carol, { op: "join", channel: "room", member: "a.b" }, "joined"), {
    op: "error",
    code: "bad_frame",
  }, "member ids are checked");
});

t.test("the migration sets the presence TTL; a notify configured otherwise goes by the bucket's", async (t) => {
  const nats = await startNatsServer();
  t.teardown(() => nats.stop());
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  const lines: string[] = [];
  const log = createLogger({ svc: "notify" }, { level: "info", sink: (line) => lines.push(line) });
  const ttlOf = async () => (await new Kvm(js).open(PRESENCE_BUCKET).then((kv) => kv.status())).ttl;
  const missing = await Presence.open(js, { ttlMs: 2000, log }).catch((e: unknown) => e);
  t.match(missing, {
    code: "not_migrated",
    message: /KV bucket jetmesh_presence does not exist: run the migration/,
  }, "notify does not create the bucket");
  await migrateAsAdmin([nats.url], { NOTIFY_PRESENCE_TTL: "2s" });
  t.equal(await ttlOf(), 2000, "created with the configured TTL");
  const first = await Presence.open(js, { ttlMs: 2000, log });
  await first.close();
  t.equal(lines.length, 0, "no warning when they agree");
  const steps = await migrateAsAdmin([nats.url], { NOTIFY_PRESENCE_TTL: "5s" });
  t.match(steps.find((s) => s.name === PRESENCE_BUCKET), {
    action: "updated",
    changed: ["max_age"],
  }, "the migration moves the bucket to a new TTL");
  t.equal(await ttlOf(), 5000);
  const second = await Presence.open(js, { ttlMs: 2000, log });
  await second.close();
  t.match(
    JSON.parse(lines[0]),
    { level: "warn", bucket_ttl_ms: 5000, ttl_ms: 2000 },
    "a notify configured otherwise warns and goes by the bucket",
  );
  t.equal(await ttlOf(), 5000, "and leaves the bucket alone");
});

// The example namespaces file loads, and decides as its comments say.
import t from "tap";
import { anonymous, type Identity } from "../internal/auth/mod.ts";
import {
  DEFAULT_CONNECTIONS,
  DEFAULT_LIMITS,
  loadNamespaces,
  Policy,
} from "../internal/namespaces/mod.ts";

const file = new URL("namespaces.example.yaml", import.meta.url).pathname;
const config = loadNamespaces(file);
const policy = new Policy(config, false);

function token(
  sub: string,
  claims: Record<string, unknown> = {},
  publish: string[] = [],
): Identity {
  return {
    sub,
    expiresAt: Date.now() + 3_600_000,
    publish,
    subscribe: [],
    claims: { sub, ...claims },
  };
}
const anon = anonymous();
const alice = token("alice");
const admin = token("root", { role: "admin" });
const ops = token("olga", { role: "ops" });
const device = token("sensor-17", { kind: "device" });
const analyst = token("fran", { role: "fraud-analyst" });
const payments = token("payments", {}, ["tx.>"]);

t.test("its defaults and connection caps are the built-in ones it says it repeats", async (t) => {
  t.same(config.defaults, DEFAULT_LIMITS);
  t.same(config.connections, DEFAULT_CONNECTIONS);
  t.same(config.namespaces.map((n) => n.name), [
    "announcements",
    "chat",
    "personal",
    "admin",
    "telemetry",
    "transactions",
  ]);
});

t.test("chat: anyone reads, tokens write; announcements: admins write", async (t) => {
  for (const a of ["subscribe", "history", "presence"] as const) {
    t.ok(policy.may(anon, a, "chat.lobby"), `anonymous ${a}`);
  }
  t.throws(() => policy.authorize(anon, "publish", "chat.lobby"), { code: "unauthorized" });
  t.ok(policy.may(alice, "publish", "chat.lobby"));
  t.ok(policy.may(anon, "subscribe", "chat.announcements.release"));
  t.throws(() => policy.authorize(alice, "publish", "chat.announcements.release"), {
    code: "forbidden",
  }, "chat's rule does not reach it");
  t.ok(policy.may(admin, "publish", "chat.announcements.release"));
  t.same(policy.resolve("chat.lobby").limits.maxPayloadBytes, 4096);
  t.same(policy.resolve("chat.lobby").limits.publishRate, { perSecond: 5, burst: 20 });
});

t.test("personal spaces: user.alice.> for alice only", async (t) => {
  const decisions: Array<[Identity | typeof anon, "publish" | "subscribe", string, boolean]> = [
    [alice, "subscribe", "user.alice.>", true],
    [alice, "publish", "user.alice.notes", true],
    [alice, "subscribe", "user.bob.>", false],
    [alice, "subscribe", "user.*.>", false],
    [anon, "subscribe", "user.anon.>", false],
  ];
  for (const [who, action, channel, allowed] of decisions) {
    t.equal(
      policy.may(who, action, channel),
      allowed,
      `${who.sub ?? "anonymous"} ${action} ${channel}`,
    );
  }
});

t.test("admin by claim; telemetry fast and small; transactions by role", async (t) => {
  t.ok(policy.may(admin, "subscribe", "admin.>"));
  t.notOk(policy.may(alice, "subscribe", "admin.audit"));
  t.ok(policy.may(device, "publish", "iot.sensor-17.temp"));
  t.notOk(policy.may(alice, "publish", "iot.sensor-17.temp"), "not a device");
  t.ok(policy.may(ops, "subscribe", "iot.>"));
  t.notOk(policy.may(device, "subscribe", "iot.>"), "devices do not read");
  t.same(policy.resolve("iot.sensor-17.temp").limits.maxPayloadBytes, 512);
  t.same(policy.resolve("iot.sensor-17.temp").limits.publishRate, { perSecond: 2000, burst: 5000 });
  t.ok(policy.may(analyst, "subscribe", "tx.>"));
  t.ok(policy.may(analyst, "history", "tx.card.auth"));
  t.notOk(policy.may(ops, "subscribe", "tx.>"));
  t.notOk(policy.may(analyst, "publish", "tx.card.auth"));
  t.ok(policy.may(payments, "publish", "tx.card.auth"), "the payment service's token grants it");
  t.equal(policy.resolve("tx.card.auth").limits.replay.maxAgeMs, 7 * 86_400_000);
});

t.test("nothing else: a pattern across namespaces, an unknown channel", async (t) => {
  t.notOk(policy.may(admin, "subscribe", ">"));
  t.notOk(policy.may(alice, "publish", "misc.x"));
  t.equal(policy.resolve("misc.x").name, "(default)");
});

import t from "tap";
import { anonymous, type Identity } from "../auth/mod.ts";
import { errorCode } from "../errors/mod.ts";
import { parseNamespaces } from "./parse.ts";
import { Policy } from "./policy.ts";

function identity(
  sub: string,
  o: { publish?: string[]; subscribe?: string[]; claims?: Record<string, unknown> } = {},
): Identity {
  return {
    sub,
    expiresAt: Date.now() + 3_600_000,
    publish: o.publish ?? [],
    subscribe: o.subscribe ?? [],
    claims: { sub, ...o.claims },
  };
}

const policy = new Policy(
  parseNamespaces({
    namespaces: [
      {
        name: "admin",
        channels: "chat.admin.>",
        subscribe: { claim: "role", equals: "admin" },
        publish: { claim: "role", in: ["admin", "ops"] },
      },
      {
        name: "personal",
        channels: "user.{sub}.>",
        publish: "authenticated",
        subscribe: "authenticated",
        history: "authenticated",
      },
      {
        name: "chat",
        channels: "chat.>",
        subscribe: "anonymous",
        history: "anonymous",
        publish: "authenticated",
        limits: { publishRate: { perSecond: 5 } },
      },
      { name: "feed", channels: "feed.*", subscribe: "authenticated" },
    ],
  }),
  false,
);

const anon = anonymous();
const alice = identity("alice");
const admin = identity("root", { claims: { role: "admin" } });
const ops = identity("opsy", { claims: { role: "ops" } });

t.test("token grants: what a token lists, and nothing wider", async (t) => {
  const p = new Policy(parseNamespaces(undefined), false);
  const id = identity("dev", { publish: ["iot.*.temp"], subscribe: ["iot.>"] });
  t.ok(p.may(id, "publish", "iot.dev1.temp"));
  t.notOk(p.may(id, "publish", "iot.dev1.humidity"));
  t.ok(p.may(id, "subscribe", "iot.*.temp"), "a narrower pattern");
  t.ok(p.may(id, "subscribe", "iot.>"));
  t.notOk(p.may(id, "subscribe", ">"), "a wider pattern");
  t.ok(p.may(id, "history", "iot.dev1.temp"), "the subscribe grants cover history and presence");
  t.ok(p.may(id, "presence", "iot.dev1"));
  t.notOk(p.may(anon, "subscribe", "iot.x"), "no namespaces, no token: nothing");
});

t.test("anonymous, authenticated and claim rules", async (t) => {
  t.ok(policy.may(anon, "subscribe", "chat.lobby"), "anonymous reads chat");
  t.notOk(policy.may(anon, "publish", "chat.lobby"), "anonymous does not write chat");
  t.ok(policy.may(alice, "publish", "chat.lobby"), "authenticated writes chat");
  t.notOk(
    policy.may(alice, "presence", "chat.lobby"),
    "an action the namespace does not list: nobody",
  );
  t.ok(policy.may(alice, "subscribe", "feed.news"));
  t.notOk(policy.may(anon, "subscribe", "feed.news"));
  t.ok(policy.may(admin, "subscribe", "chat.admin.audit"), "role equals admin");
  t.ok(policy.may(ops, "publish", "chat.admin.audit"), "role in [admin, ops]");
  t.notOk(policy.may(ops, "subscribe", "chat.admin.audit"), "ops may write admin, not read it");
  t.notOk(
    policy.may(identity("x", { claims: { role: ["admin"] } }), "subscribe", "chat.admin.audit"),
    "a list claim is not equal to admin",
  );
  t.notOk(policy.may(alice, "subscribe", "other.x"), "no namespace: grants only");
});

t.test("first match: a specific namespace is not opened by a broad one after it", async (t) => {
  t.notOk(
    policy.may(anon, "subscribe", "chat.admin.audit"),
    "chat.> is anonymous, but chat.admin.> comes first",
  );
  t.notOk(policy.may(alice, "subscribe", "chat.admin.audit"));
  t.notOk(policy.may(anon, "subscribe", "chat.>"), "chat.> would carry chat.admin events");
  t.notOk(policy.may(anon, "subscribe", "chat.*.audit"), "chat.*.audit includes chat.admin.audit");
  t.ok(policy.may(anon, "subscribe", "chat.*"), "chat.* cannot match chat.admin.> channels");
  t.ok(policy.may(admin, "subscribe", "chat.>"), "admitted by both: the whole of chat");
  t.ok(
    policy.may(ops, "publish", "chat.admin.x") && policy.may(ops, "publish", "chat.lobby"),
    "ops writes both",
  );
  t.notOk(
    policy.may(alice, "publish", "chat.admin.x"),
    "chat.> is open to authenticated writers, chat.admin.> is not",
  );
});

t.test("{sub}: each user's own space, never another's nor all of them", async (t) => {
  t.ok(policy.may(alice, "publish", "user.alice.inbox"));
  t.ok(policy.may(alice, "subscribe", "user.alice.>"));
  t.ok(policy.may(alice, "history", "user.alice.inbox"));
  t.notOk(policy.may(alice, "subscribe", "user.bob.>"));
  t.notOk(policy.may(alice, "publish", "user.bob.inbox"));
  t.notOk(policy.may(alice, "subscribe", "user.*.>"));
  t.notOk(policy.may(alice, "subscribe", "user.>"));
  t.notOk(policy.may(alice, "subscribe", ">"), "a pattern spanning namespaces");
  t.notOk(policy.may(anon, "subscribe", "user.anon.>"), "anonymous has no space");
  t.ok(
    policy.may(identity("bob", { subscribe: ["user.>"] }), "subscribe", "user.*.>"),
    "a grant as wide as the pattern",
  );
});

t.test("limits: the first namespace matching the channel or pattern, else the defaults", async (t) => {
  t.equal(policy.resolve("chat.lobby").name, "chat");
  t.same(policy.resolve("chat.lobby").limits.publishRate, { perSecond: 5, burst: 10 });
  t.equal(policy.resolve("chat.admin.audit").name, "admin", "listed first");
  t.equal(policy.resolve("user.bob.inbox").name, "personal", "{sub} matches any user for limits");
  t.equal(policy.resolve("chat.>").name, "chat");
  t.equal(policy.resolve(">").name, "(default)");
  t.equal(policy.resolve("feed.a.b").name, "(default)");
});

t.test("authorize: unauthorized without a token, forbidden with one", async (t) => {
  t.doesNotThrow(() => policy.authorize(alice, "publish", "chat.lobby"));
  t.throws(() => policy.authorize(anon, "publish", "chat.lobby"), {
    code: "unauthorized",
    message: "a token is required to publish to chat.lobby",
  });
  t.throws(() => policy.authorize(alice, "subscribe", "user.bob.>"), {
    code: "forbidden",
    message: "your token does not allow you to subscribe to user.bob.>",
  });
  try {
    policy.authorize(alice, "history", "chat.admin.x");
  } catch (err) {
    t.equal(errorCode(err), "forbidden");
    t.match((err as Error).message, "read the history of chat.admin.x");
  }
});

t.test("open mode (JETMESH_AUTH=none): every action allowed, limits still resolve", async (t) => {
  const open = new Policy(policy.config, true);
  t.ok(open.may(anon, "publish", "chat.admin.x"));
  t.ok(open.may(anon, "subscribe", ">"));
  t.equal(open.resolve("chat.lobby").name, "chat");
  t.notOk(policy.may(anon, "subscribe", ">"), "the same file closed");
});

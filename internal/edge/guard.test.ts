import t from "tap";
import { type Env, EnvReader } from "../config/env.ts";
import { errorCode, retryAfterMs } from "../errors/mod.ts";
import { createLogger, type Level } from "../log/mod.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";
import { readEdgeConfig } from "./config.ts";
import { Guard, type RequestHead } from "./guard.ts";

async function guard(env: Env): Promise<{ guard: Guard; logs: Array<[Level, string]> }> {
  const r = new EnvReader(env);
  const cfg = readEdgeConfig(r);
  r.done();
  const logs: Array<[Level, string]> = [];
  return {
    guard: await Guard.create(
      cfg,
      "ingest",
      createLogger({}, { sink: (line, level) => logs.push([level, line]) }),
    ),
    logs,
  };
}

function head(
  headers: Record<string, string> = {},
  query = "",
  remoteAddress = "10.0.0.7",
): RequestHead {
  return { header: (name) => headers[name], query: new URLSearchParams(query), remoteAddress };
}

t.test("origin: the service's own by default, the allow-list when given, * for any; no Origin always passes", async (t) => {
  const { guard: own } = await guard({ JETMESH_AUTH: "none" });
  own.checkOrigin(head({ host: "rt.example.com:8080", origin: "https://rt.example.com:8080" }));
  own.checkOrigin(head({ host: "localhost:8080", origin: "http://localhost:8080" }));
  own.checkOrigin(head({ host: "rt.example.com" }));
  t.pass("own origin (http or https) and no Origin");
  t.throws(
    () => own.checkOrigin(head({ host: "rt.example.com", origin: "https://evil.example.com" })),
    {
      code: "forbidden",
      message:
        /origin https:\/\/evil\.example\.com is not allowed; list it in JETMESH_ALLOWED_ORIGINS/,
    },
  );
  t.throws(
    () =>
      own.checkOrigin(head({ host: "rt.example.com", origin: "https://rt.example.com.evil.com" })),
    { code: "forbidden" },
  );
  t.throws(
    () => own.checkOrigin(head({ origin: "https://rt.example.com" })),
    { code: "forbidden" },
    "no Host: nothing to derive from",
  );
  t.throws(() => own.checkOrigin(head({ host: "rt.example.com", origin: "null" })), {
    code: "forbidden",
  }, "sandboxed page");

  const { guard: listed } = await guard({
    JETMESH_AUTH: "none",
    JETMESH_ALLOWED_ORIGINS: "https://App.Example.com, http://localhost:5173",
  });
  listed.checkOrigin(head({ host: "rt.example.com", origin: "https://app.example.com" }));
  t.pass("listed origins, however the list spells their case");
  listed.checkOrigin(head({ host: "rt.example.com", origin: "http://localhost:5173" }));
  listed.checkOrigin(head({ host: "rt.example.com" }));
  t.throws(
    () => listed.checkOrigin(head({ host: "rt.example.com", origin: "https://rt.example.com" })),
    { code: "forbidden" },
    "a list replaces the default",
  );
  t.throws(
    () => listed.checkOrigin(head({ host: "rt.example.com", origin: "http://app.example.com" })),
    { code: "forbidden" },
    "the scheme counts",
  );

  const { guard: any } = await guard({ JETMESH_AUTH: "none", JETMESH_ALLOWED_ORIGINS: "*" });
  any.checkOrigin(head({ host: "rt.example.com", origin: "https://anything.example.net" }));
  t.pass("* allows any origin");
});

t.test("JETMESH_ALLOWED_ORIGINS and JETMESH_CLIENT_ADDRESS_HEADER are checked", async (t) => {
  await t.rejects(
    guard({ JETMESH_AUTH: "none", JETMESH_ALLOWED_ORIGINS: "https://app.example.com/path" }),
    { code: "bad_config", message: /JETMESH_ALLOWED_ORIGINS/ },
  );
  await t.rejects(guard({ JETMESH_AUTH: "none", JETMESH_ALLOWED_ORIGINS: "app.example.com" }), {
    code: "bad_config",
  });
  await t.rejects(guard({ JETMESH_AUTH: "none", JETMESH_CLIENT_ADDRESS_HEADER: "x forwarded" }), {
    code: "bad_config",
    message: /JETMESH_CLIENT_ADDRESS_HEADER/,
  });
});

t.test("client address: the peer unless a trusted proxy header is configured, then its last entry", async (t) => {
  const spoofed = { "x-forwarded-for": "1.2.3.4" };
  const { guard: direct } = await guard({ JETMESH_AUTH: "none" });
  t.equal(
    direct.clientAddress(head(spoofed)),
    "10.0.0.7",
    "a header no proxy vouches for is ignored",
  );
  const { guard: proxied } = await guard({
    JETMESH_AUTH: "none",
    JETMESH_CLIENT_ADDRESS_HEADER: "X-Forwarded-For",
  });
  t.equal(proxied.clientAddress(head(spoofed)), "1.2.3.4");
  t.equal(
    proxied.clientAddress(head({ "x-forwarded-for": "6.6.6.6, 203.0.113.9" })),
    "203.0.113.9",
    "the entry the proxy appended, not the client's",
  );
  t.equal(proxied.clientAddress(head()), "10.0.0.7", "no header: the peer");
});

t.test("JETMESH_AUTH=none: the caller is who it says it is, with a warning at start", async (t) => {
  const { guard: g, logs } = await guard({ JETMESH_AUTH: "none" });
  t.notOk(g.authOn);
  t.same(await g.caller(head(), "bob"), { sub: undefined, name: "bob" });
  t.same(
    await g.caller(head({}, "token=whatever")),
    { sub: undefined, name: "anon" },
    "no self name: anon; a token is not looked at",
  );
  t.match(logs, [[
    "warn",
    /ingest runs with JETMESH_AUTH=none: anyone who reaches it may publish and read every channel/,
  ]]);
  t.ok(g.policy.may(await g.caller(head()), "publish", "any.channel"));
});

t.test("JWT: the token from Authorization: Bearer or ?token=; a bad one is refused, none is anonymous", async (t) => {
  const { secret, env } = jwtAuth();
  const { guard: g, logs } = await guard(env);
  t.ok(g.authOn);
  t.same(logs, [], "no warning");
  const token = await mintToken(secret, "alice", { publish: ["chat.>"] });
  t.match(await g.caller(head({ authorization: `Bearer ${token}` })), {
    sub: "alice",
    publish: ["chat.>"],
  });
  t.match(await g.caller(head({}, `token=${token}`)), { sub: "alice" });
  t.match(
    await g.caller(head({}, `token=${token}`), "mallory"),
    { sub: "alice" },
    "a self name is ignored with auth on",
  );
  t.same(
    await g.caller(head(), "mallory"),
    { sub: undefined, name: "anon" },
    "no token: anonymous, whatever it calls itself",
  );
  await t.rejects(
    g.caller(head({}, "token=nope")),
    { code: "unauthorized" },
    "a bad token is refused, not taken for anonymous",
  );
  await t.rejects(
    g.caller(head({ authorization: `Bearer ${await mintToken(jwtAuth().secret, "alice")}` })),
    { code: "unauthorized" },
  );
});

t.test("refresh: a new token of the same sub replaces the old; another sub is forbidden", async (t) => {
  const { secret, env } = jwtAuth();
  const { guard: g } = await guard(env);
  const alice = await g.caller(
    head({}, `token=${await mintToken(secret, "alice", { subscribe: ["a.>"] })}`),
  );
  const renewed = await g.refresh(
    alice,
    await mintToken(secret, "alice", { subscribe: ["b.>"], expiresIn: 7200 }),
  );
  t.match(renewed, { sub: "alice", subscribe: ["b.>"] }, "the grants of the new token");
  await t.rejects(g.refresh(alice, await mintToken(secret, "bob")), {
    code: "forbidden",
    message: "a connection keeps its identity: this one is alice, the token is for bob",
  });
  await t.rejects(g.refresh(alice, await mintToken(secret, "alice", { expiresIn: -60 })), {
    code: "unauthorized",
    message: "token expired",
  });
  t.match(await g.refresh(await g.caller(head()), await mintToken(secret, "carol")), {
    sub: "carol",
  }, "an anonymous connection may sign in");
});

t.test("authorize and limit: the namespace's rules and rates, per sub or per address", async (t) => {
  const { secret, env } = jwtAuth();
  const { guard: g } = await guard({ ...env, JETMESH_NAMESPACES: "" });
  const alice = await g.caller(
    head({}, `token=${await mintToken(secret, "alice", { publish: ["chat.>"] })}`),
  );
  const ns = g.authorize(alice, "publish", "chat.lobby");
  t.equal(ns.name, "(default)");
  t.throws(() => g.authorize(alice, "publish", "other.x"), { code: "forbidden" });
  const nobody = await g.caller(head());
  t.throws(() => g.authorize(nobody, "publish", "chat.lobby"), { code: "unauthorized" });
  const tight = { name: "t", limits: { ...ns.limits, publishRate: { perSecond: 1, burst: 2 } } };
  g.limit(alice, "10.0.0.1", "publish", tight);
  g.limit(alice, "10.0.0.2", "publish", tight);
  const err = (() => {
    try {
      g.limit(alice, "10.0.0.3", "publish", tight);
    } catch (e) {
      return e;
    }
  })();
  t.equal(errorCode(err), "rate_limited", "the same sub from another address shares its bucket");
  t.ok((retryAfterMs(err) ?? 0) > 0, "with a retry hint");
  g.limit(alice, "10.0.0.3", "command", tight);
  t.pass("commands have a bucket of their own");
  g.limit(nobody, "10.0.0.9", "publish", tight);
  g.limit(nobody, "10.0.0.9", "publish", tight);
  t.throws(
    () => g.limit(nobody, "10.0.0.9", "publish", tight),
    { code: "rate_limited" },
    "anonymous: per address",
  );
  g.limit(nobody, "10.0.0.10", "publish", tight);
  t.pass("another address, another bucket");
});

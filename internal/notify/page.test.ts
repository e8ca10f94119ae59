import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { buildPage } from "../../demo/chat/build.ts";
import { createVerifier, readAuthConfig } from "../auth/mod.ts";
import { EnvReader } from "../config/mod.ts";
import { createLogger } from "../log/mod.ts";
import type { HttpRequest } from "../wsserver/mod.ts";
import { type DemoConfig, readDemoConfig } from "./demo-config.ts";
import { demoRoutes, ingestUrlFor } from "./page.ts";

const SECRET = "0123456789abcdef0123456789abcdef-local";

// The page as `make page` builds it, in a folder of this test's own.
const built = await mkdtemp(join(tmpdir(), "jetmesh-page-"));
t.teardown(() => rm(built, { recursive: true, force: true }));
await buildPage(built);

function demo(env: Record<string, string>): DemoConfig {
  const r = new EnvReader(env);
  const cfg = readDemoConfig(r, readAuthConfig(r));
  r.done();
  return cfg;
}

function get(
  path: string,
  headers: Record<string, string> = { host: "localhost:8081" },
): HttpRequest {
  const u = new URL(path, "http://x");
  return {
    method: "GET",
    path: u.pathname,
    query: u.searchParams,
    header: (n) => headers[n],
    body: new Uint8Array(),
    remoteAddress: "127.0.0.1",
  };
}

t.test("the page publishes only where notify says, and its CSP allows just that", async (t) => {
  const logs: string[] = [];
  const routes = demoRoutes(
    demo({ JETMESH_AUTH: "none", INGEST_PORT: "9000", NOTIFY_PAGE_DIR: built }),
    createLogger({}, { sink: (l) => logs.push(l) }),
  );
  const page = await routes["GET /"](get("/?ingest=ws://evil.example/v1/ws"));
  t.equal(page.status, 200);
  t.match(
    String(page.body),
    '<meta name="jetmesh-ingest-url" content="ws://localhost:9000/v1/ws">',
    "ingest's port on the page's host",
  );
  t.notMatch(String(page.body), "evil.example", "the query string has no say");
  t.equal(
    page.headers?.["content-security-policy"],
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws://localhost:9000/v1/ws; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
  t.notMatch(
    String(page.body),
    /<style|<script>/,
    "no inline style or script for the policy to allow",
  );
  const configured = demo({
    JETMESH_AUTH: "none",
    NOTIFY_DEMO_INGEST_URL: "wss://ingest.example.com/v1/ws",
  });
  t.equal(
    ingestUrlFor(configured, get("/")),
    "wss://ingest.example.com/v1/ws",
    "NOTIFY_DEMO_INGEST_URL wins",
  );
  const bad = await routes["GET /"](get("/", { host: 'x"><script>alert(1)</script>' }));
  t.equal(bad.status, 400, "a Host that is no host name is refused, not rendered");
  t.throws(
    () => demo({ JETMESH_AUTH: "none", NOTIFY_DEMO_INGEST_URL: "ws://a/v1/ws' https://evil" }),
    { code: "bad_config" },
    "nor a URL that would extend the policy",
  );
  t.equal(routes["GET /dev/token"], undefined, "no token endpoint unless asked for");
  t.same(logs, [], "and no warning");
});

t.test("the built page's script and style; without a built page, 404s that say so", async (t) => {
  const log = createLogger({}, { sink: () => {} });
  const routes = demoRoutes(demo({ JETMESH_AUTH: "none", NOTIFY_PAGE_DIR: built }), log);
  const js = await routes["GET /chat.js"](get("/chat.js"));
  t.equal(js.status, 200);
  t.equal(js.headers?.["content-type"], "text/javascript; charset=utf-8");
  t.match(String(js.body), "JetmeshClient", "app.ts bundled with the SDK");
  t.notMatch(String(js.body), /from "\.\.\/\.\.\/sdk/, "no import left for the browser to fetch");
  const css = await routes["GET /chat.css"](get("/chat.css"));
  t.equal(css.status, 200);
  t.equal(css.headers?.["content-type"], "text/css; charset=utf-8");
  const missing = join(built, "nothing-here");
  for (const [env, why] of [[missing, /not built: .*nothing-here.*make page/], ["none", /none/]]) {
    const bare = demoRoutes(demo({ JETMESH_AUTH: "none", NOTIFY_PAGE_DIR: env as string }), log);
    for (const path of ["/", "/chat.js", "/chat.css"]) {
      const res = await bare[`GET ${path}`](get(path));
      t.equal(res.status, 404, `${path} with NOTIFY_PAGE_DIR=${env}`);
      t.match(JSON.parse(String(res.body)), { op: "error", code: "not_found", message: why });
    }
  }
});

t.test("/dev/token: HS256 only, a loud warning, tokens the services accept for names only", async (t) => {
  t.throws(() => demo({ JETMESH_AUTH: "none", JETMESH_DEV_TOKENS: "1" }), {
    code: "bad_config",
    message: /JETMESH_DEV_TOKENS.*JETMESH_JWT_SECRET/,
  }, "refused without the HS256 secret");
  const env = { JETMESH_JWT_SECRET: SECRET, JETMESH_DEV_TOKENS: "1", JETMESH_DEV_TOKENS_TTL: "2m" };
  const logs: string[] = [];
  const route =
    demoRoutes(demo(env), createLogger({}, { sink: (l) => logs.push(l) }))["GET /dev/token"];
  t.match(logs.join("\n"), /"level":"warn".*ANY name to ANYONE/, "a warning at start");
  const res = await route(get("/dev/token?name=alice"));
  t.equal(res.status, 200);
  t.equal(res.headers?.["cache-control"], "no-store");
  const body = JSON.parse(String(res.body)) as { token: string; sub: string; expiresAt: number };
  const auth = readAuthConfig(new EnvReader(env));
  const who = await (await createVerifier(auth as Extract<typeof auth, { mode: "jwt" }>)).verify(
    body.token,
  );
  t.same({ sub: who.sub, publish: who.publish, subscribe: who.subscribe }, {
    sub: "alice",
    publish: ["chat.>", "user.alice.>"],
    subscribe: ["chat.>", "user.alice.>"],
  });
  t.ok(Math.abs(body.expiresAt - Date.now() - 120_000) < 2000, "for JETMESH_DEV_TOKENS_TTL");
  for (const host of ["evil.example:8081", "localhost.evil.example", "127.0.0.1.nip.io:8081"]) {
    t.equal(
      (await route(get("/dev/token?name=alice", { host }))).status,
      403,
      `not for Host ${host} (DNS rebinding)`,
    );
  }
  t.equal(
    (await route(get("/dev/token?name=alice", { host: "127.0.0.1:8081" }))).status,
    200,
    "127.0.0.1 is loopback too",
  );
  for (const name of ["", "a.b", "*", "x".repeat(65)]) {
    t.equal(
      (await route(get(`/dev/token?name=${encodeURIComponent(name)}`))).status,
      400,
      `name ${JSON.stringify(name)} refused`,
    );
  }
});

import t from "tap";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { edgeEnv, localJwtSecret } from "./dev-auth.ts";

t.test("run-local's JWT secret: generated once and kept (0600), JETMESH_JWT_SECRET wins", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jm-dev-auth-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "jwt-secret");
  const first = localJwtSecret(file, {});
  t.ok(first.generated && first.secret.length >= 32, "a new random secret");
  t.equal(statSync(file).mode & 0o777, 0o600, "readable by its owner only");
  t.same(
    localJwtSecret(file, {}),
    { secret: first.secret, generated: false, fromEnv: false },
    "a restart keeps it, so tokens stay valid",
  );
  t.same(localJwtSecret(file, { JETMESH_JWT_SECRET: "x".repeat(40) }), {
    secret: "x".repeat(40),
    generated: false,
    fromEnv: true,
  });
});

t.test("the edges' variables: JWT on, the demo's namespaces, the page's origin at ingest, dev tokens at notify", async (t) => {
  const e = edgeEnv("/r", "s".repeat(32), { ingest: 8080, notify: [8081] }, {});
  t.match(e.ingest, {
    JETMESH_AUTH: "jwt",
    JETMESH_JWT_SECRET: "s".repeat(32),
    JETMESH_NAMESPACES: "/r/infra/local/namespaces.yaml",
    JETMESH_ALLOWED_ORIGINS: "http://localhost:8081,http://127.0.0.1:8081",
  });
  t.notOk("JETMESH_DEV_TOKENS" in e.ingest, "ingest hands out nothing");
  t.match(e.notify, {
    JETMESH_AUTH: "jwt",
    JETMESH_DEV_TOKENS: "1",
    NOTIFY_DEMO_INGEST_URL: "ws://localhost:8080/v1/ws",
  });
  t.notOk("JETMESH_ALLOWED_ORIGINS" in e.notify, "notify's page is its own origin");
  const own = edgeEnv("/r", "s".repeat(32), { ingest: 8080, notify: [8081] }, {
    JETMESH_ALLOWED_ORIGINS: "https://app.example",
    JETMESH_NAMESPACES: "/mine.yaml",
  });
  t.match(own.ingest, {
    JETMESH_ALLOWED_ORIGINS: "https://app.example",
    JETMESH_NAMESPACES: "/mine.yaml",
  }, "the developer's settings stay");
});

t.test("run-local EXAMPLE=<name>: notify also takes the example page's origin, the chat page's stay", async (t) => {
  const e = edgeEnv("/r", "s".repeat(32), { ingest: 8080, notify: [8081] }, {
    RUN_LOCAL_EXAMPLE: "iot",
    JETMESH_NAMESPACES: "/r/examples/iot/namespaces.yaml",
  });
  t.equal(
    e.notify.JETMESH_ALLOWED_ORIGINS,
    "http://localhost:8081,http://127.0.0.1:8081,http://localhost:8090,http://127.0.0.1:8090",
  );
  t.equal(e.notify.JETMESH_NAMESPACES, "/r/examples/iot/namespaces.yaml");
  const own = edgeEnv("/r", "s".repeat(32), { ingest: 8080, notify: [8081] }, {
    RUN_LOCAL_EXAMPLE: "iot",
    JETMESH_ALLOWED_ORIGINS: "https://app.example",
  });
  t.notOk("JETMESH_ALLOWED_ORIGINS" in own.notify, "a developer's own origins are left as set");
});

t.test("run-local REPLICAS=2: the page of either notify replica may publish to ingest", async (t) => {
  const e = edgeEnv("/r", "s".repeat(32), { ingest: 8080, notify: [8081, 8181] }, {});
  t.equal(
    e.ingest.JETMESH_ALLOWED_ORIGINS,
    "http://localhost:8081,http://127.0.0.1:8081,http://localhost:8181,http://127.0.0.1:8181",
  );
});

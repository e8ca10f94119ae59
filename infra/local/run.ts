/**
 * `make run-local`: the whole platform on one machine.
 *
 * - NATS: NATS_URL when set (an external server: no server or users here);
 *   otherwise a nats-server with JetStream, data in .data/nats, on
 *   127.0.0.1:4222 (another free port when 4222 is taken), with the users of
 *   infra/nats/users.conf. Their passwords come from JETMESH_NATS_<USER>_PASSWORD
 *   or are generated once and kept in .data/nats-passwords.json (mode 0600).
 * - The migration (cmd/migrate) as the admin user, before any service: it
 *   creates the streams and KV buckets; the services' users may not.
 * - A nats CLI context `jetmesh-local` with the admin user, and
 *   .data/run-local.env for `make inspect` / `make replay-dlq`.
 * - PostgreSQL: DATABASE_URL when set; otherwise embedded PGlite
 *   (cmd/pglite/main.ts, data in .data/pglite) with DATABASE_POOL_MAX=1.
 * - ingest, route, persist, notify (node --import tsx cmd/<svc>/main.ts), each
 *   as its own NATS user, on 127.0.0.1 unless <SVC>_HOST says otherwise, with
 *   their output prefixed and coloured. RUN_LOCAL_LOG=json keeps the raw JSON.
 * - JWT auth on ingest and notify (infra/local/dev-auth.ts): HS256 with
 *   JETMESH_JWT_SECRET, or a secret generated once into .data/jwt-secret
 *   (mode 0600); the namespaces of infra/local/namespaces.yaml; notify's
 *   development endpoint /dev/token (JETMESH_DEV_TOKENS=1), which the chat
 *   page gets its tokens from; ingest accepts the page's origin. A token for
 *   `alice` is printed and kept in .data/run-local.env (JETMESH_TOKEN).
 *   JETMESH_JWT_PUBLIC_KEY_FILE, JETMESH_JWT_JWKS_URL or JETMESH_AUTH=none
 *   instead: as they say, without dev tokens.
 * - Jaeger (the pinned .tools/bin/jaeger, or JAEGER_BIN) with
 *   infra/local/jaeger.yaml, unless RUN_LOCAL_JAEGER=0 or an OTEL_* exporter
 *   variable is set: UI and query API on JAEGER_UI_PORT (16686), OTLP/HTTP on
 *   JAEGER_OTLP_PORT (4318), another free port when one is taken; the
 *   services send their traces to it.
 *
 * Ctrl-C / SIGTERM stops the services (SIGTERM, SIGKILL after 10 s), then
 * PGlite and nats-server, and exits 0. If any of them exits on its own,
 * everything is stopped and the exit code is 1.
 *
 * `--smoke` (make smoke): the same stack on free ports with its data in a
 * temporary directory (so it can run beside a running run-local), then
 * infra/local/smoke.ts against it, then everything stops; the exit code is the
 * smoke check's. Its nats CLI context goes to a temporary XDG_CONFIG_HOME, so
 * the developer's own `jetmesh-local` context is left alone.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  canListen,
  Child,
  color,
  formatLogLine,
  type Paint,
  pickPort,
  say,
  shout,
  stopLeftover,
  waitForHttp,
} from "../../devkit/supervisor.ts";
import { findTool, toolMissingReason } from "../tools/tools.ts";
import {
  adminAccess,
  localPasswords,
  migrationChild,
  type Passwords,
  serverEnv,
  userEnv,
  writeServerConfig,
} from "./nats-local.ts";
import { edgeEnv, localJwtSecret, printedToken } from "./dev-auth.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const smoke = process.argv.includes("--smoke");
const dataDir = smoke ? mkdtempSync(join(tmpdir(), "jm-smoke-")) : join(root, ".data");
const pidDir = join(dataDir, "run-local");
const env = { ...process.env };
const rawLogs = env.RUN_LOCAL_LOG === "json";
const GRACE_MS = Number(env.RUN_LOCAL_GRACE_MS ?? 10_000);

interface Service {
  name: "ingest" | "route" | "persist" | "notify";
  portVar: string;
  defaultPort: number;
  /**
   * Where /healthz and /metrics are: a port of their own on ingest and notify, the only port
   * of route and persist.
   */
  opsPortVar: string;
  defaultOpsPort: number;
  paint: Paint;
  usesDatabase: boolean;
}

const services: Service[] = [
  {
    name: "ingest",
    portVar: "INGEST_PORT",
    defaultPort: 8080,
    opsPortVar: "INGEST_OPS_PORT",
    defaultOpsPort: 9090,
    paint: color.cyan,
    usesDatabase: false,
  },
  {
    name: "route",
    portVar: "ROUTE_PORT",
    defaultPort: 8082,
    opsPortVar: "ROUTE_PORT",
    defaultOpsPort: 8082,
    paint: color.magenta,
    usesDatabase: false,
  },
  {
    name: "persist",
    portVar: "PERSIST_PORT",
    defaultPort: 8083,
    opsPortVar: "PERSIST_PORT",
    defaultOpsPort: 8083,
    paint: color.blue,
    usesDatabase: true,
  },
  {
    name: "notify",
    portVar: "NOTIFY_PORT",
    defaultPort: 8081,
    opsPortVar: "NOTIFY_OPS_PORT",
    defaultOpsPort: 9091,
    paint: color.green,
    usesDatabase: true,
  },
];

const portOf = (s: Service) => Number(env[s.portVar] || s.defaultPort);
const opsPortOf = (s: Service) => Number(env[s.opsPortVar] || s.defaultOpsPort);
/** Every port a service listens on, with its variable and default. */
const listeners = (s: Service) => [
  { v: s.portVar, port: portOf(s) },
  ...(s.opsPortVar === s.portVar ? [] : [{ v: s.opsPortVar, port: opsPortOf(s) }]),
];
const shownDir = (d: string) => (d.startsWith(`${root}/`) ? d.slice(root.length + 1) : d);

/** Jaeger's own default ports: UI and query API, OTLP/HTTP. */
const JAEGER_UI_PORT = 16686;
const JAEGER_OTLP_PORT = 4318;
const JAEGER_CONFIG = join(root, "infra/local/jaeger.yaml");
const OTEL_VARIABLES = [
  "OTEL_EXPORTER",
  "OTEL_TRACES_EXPORTER",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

const children: Child[] = [];
let nats: Child | undefined;
/** The local server's users' passwords; undefined with an external NATS_URL. */
let natsPasswords: Passwords | undefined;
let pglite: Child | undefined;
let jaeger: Child | undefined;
let jaegerUiPort: number | undefined;
let stopping = false;

async function shutdown(exitCode: number, why: string): Promise<never> {
  if (stopping) {
    // Already on the way out; a second Ctrl-C kills everything at once.
    return await new Promise<never>(() => {});
  }
  stopping = true;
  say(why, exitCode === 0 ? color.bold : color.red);
  const svc = children.filter((c) => c !== nats && c !== pglite && c !== jaeger);
  const results = await Promise.all(svc.map(async (c) => ({ c, r: await c.stop(GRACE_MS) })));
  for (const { c, r } of results) {
    if (r.killed) say(`${c.name} did not stop within ${GRACE_MS} ms: killed`, color.yellow);
  }
  // Jaeger after the services: they export their last spans as they stop.
  for (const c of [jaeger, pglite, nats]) {
    if (!c) continue;
    const r = await c.stop(GRACE_MS);
    if (r.killed) say(`${c.name} did not stop within ${GRACE_MS} ms: killed`, color.yellow);
  }
  if (smoke) rmSync(dataDir, { recursive: true, force: true });
  say(
    exitCode === 0 ? "stopped" : "stopped after a failure",
    exitCode === 0 ? color.bold : color.red,
  );
  process.exit(exitCode);
}

let interrupts = 0;
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    interrupts++;
    if (interrupts > 1) {
      shout(`${sig} again: killing everything now`);
      for (const c of children) c.signal("SIGKILL");
      process.exit(130);
    }
    void shutdown(0, `${sig}: stopping (again to kill at once)`);
  });
}

/** Any child that exits while we are not stopping takes everything down. */
function watch(c: Child): Child {
  children.push(c);
  void c.done.then(({ code, signal }) => {
    if (stopping) return;
    void failStart(
      `${c.name} exited unexpectedly (code ${code}, signal ${signal})`,
      c.tail.slice(-5),
    );
  });
  return c;
}

function failStart(msg: string, tail?: string[]): Promise<never> {
  shout(msg);
  if (tail && tail.length > 0) process.stderr.write(`${color.dim(tail.slice(-15).join("\n"))}\n`);
  return shutdown(1, "stopping everything");
}

async function startNats(): Promise<string> {
  if (env.NATS_URL) {
    say(
      `using NATS_URL=${env.NATS_URL}: an external server, so no nats-server, users or nats CLI context are set up here;`,
    );
    say(
      "  the migration and the services connect with NATS_USER/NATS_PASSWORD (or NATS_TOKEN) as set",
      color.dim,
    );
    return env.NATS_URL;
  }
  const bin = findTool("nats-server");
  if (!bin) {
    shout(toolMissingReason("nats-server"));
    process.exit(1);
  }
  await stopLeftover(pidDir, "nats", "nats-server", root);
  const store = join(dataDir, "nats");
  mkdirSync(store, { recursive: true });
  const { port, moved } = await pickPort(smoke ? 0 : 4222);
  if (moved && !smoke) {
    say(
      `port 4222 is taken by another process (another nats-server?): using ${port} instead`,
      color.yellow,
    );
  }
  const monitor = await pickPort(smoke ? 0 : 8222);
  const verbose = env.LOG_LEVEL === "debug";
  const kept = join(dataDir, "nats-passwords.json");
  const { passwords, generated } = localPasswords(kept, env);
  natsPasswords = passwords;
  if (generated) {
    say(
      `NATS users: passwords generated into ${
        shownDir(kept)
      } (mode 0600); JETMESH_NATS_<USER>_PASSWORD overrides`,
    );
  }
  const conf = writeServerConfig(join(dataDir, "nats-conf"), root);
  nats = watch(
    new Child({
      name: "nats",
      command: bin,
      args: [
        "-c",
        conf,
        "-js",
        "-sd",
        store,
        "-a",
        "127.0.0.1",
        "-p",
        String(port),
        "-m",
        String(monitor.port),
        "--server_name",
        "jetmesh-local",
      ],
      cwd: root,
      env: { ...env, ...serverEnv(passwords) },
      paint: color.yellow,
      // nats-server is chatty at start; show warnings and errors unless LOG_LEVEL=debug. Its
      // plaintext-password warning is by design here: users.conf takes them from the environment.
      filter: (
        line,
      ) => (verbose ||
          (/\[(WRN|ERR|FTL)\]/.test(line) && !/Plaintext passwords detected/.test(line))
        ? line
        : undefined),
      pidDir,
    }),
  );
  const ok = await waitForHttp(
    `http://127.0.0.1:${monitor.port}/healthz?js-enabled-only=true`,
    30_000,
    () => !nats!.exited,
  );
  if (!ok) return failStart("nats-server did not become ready", nats.tail);
  const url = `nats://127.0.0.1:${port}`;
  say(
    `nats-server ${url} (JetStream, data in ${
      shownDir(store)
    }, monitor http://127.0.0.1:${monitor.port}, users of infra/nats/users.conf)`,
  );
  return url;
}

/**
 * The migration as admin (the local server's, or whatever NATS_USER an external NATS_URL came
 * with); a failure stops everything.
 */
async function migrate(natsUrl: string): Promise<void> {
  const child = migrationChild({ root, env, natsUrl, passwords: natsPasswords, pidDir, rawLogs });
  const { code } = await child.done;
  if (code !== 0) {
    await failStart(
      "the migration (cmd/migrate) failed: the services would find no streams",
      child.tail,
    );
  }
}

async function startPglite(): Promise<string> {
  if (env.DATABASE_URL) {
    say(`using DATABASE_URL=${env.DATABASE_URL.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@")}`);
    return env.DATABASE_URL;
  }
  await stopLeftover(pidDir, "pglite", "cmd/pglite/main.ts", root);
  const main = join(root, "cmd/pglite/main.ts");
  if (!existsSync(main)) {
    return failStart("cmd/pglite/main.ts is missing: set DATABASE_URL to a PostgreSQL server");
  }
  const wanted = smoke ? 0 : Number(env.PGLITE_PORT || 5433);
  const host = env.PGLITE_HOST || "127.0.0.1";
  const { port, moved } = await pickPort(wanted, host);
  if (moved && !smoke) {
    say(`port ${wanted} is taken: embedded PostgreSQL uses ${port} instead`, color.yellow);
  }
  const pgDir = smoke ? join(dataDir, "pglite") : env.PGLITE_DIR || join(dataDir, "pglite");
  say(
    `starting embedded PostgreSQL (PGlite, data in ${
      shownDir(pgDir)
    }; a first start takes several seconds)`,
  );
  pglite = watch(
    new Child({
      name: "pglite",
      command: process.execPath,
      args: ["--import", "tsx", main],
      cwd: root,
      env: {
        ...env,
        PGLITE_DIR: pgDir,
        PGLITE_PORT: String(port),
        PGLITE_HOST: host,
      },
      paint: color.gray,
      filter: (line) => formatLogLine(line, rawLogs),
      pidDir,
    }),
  );
  try {
    const url = await pglite.waitForLine((line) => {
      if (!line.startsWith("{")) return undefined;
      try {
        const o = JSON.parse(line) as { url?: unknown };
        return typeof o.url === "string" ? o.url : undefined;
      } catch {
        return undefined;
      }
    }, 120_000);
    say(`embedded PostgreSQL ${url}`);
    return url;
  } catch (err) {
    return failStart(String(err instanceof Error ? err.message : err), pglite.tail);
  }
}

/**
 * Starts Jaeger unless told not to or tracing is configured otherwise; returns the OTLP endpoint
 * for the services.
 */
async function startJaeger(): Promise<string | undefined> {
  if (OTEL_VARIABLES.some((v) => env[v])) {
    say("traces: exported as the OTEL_* variables say (no local Jaeger started)");
    return undefined;
  }
  if (env.RUN_LOCAL_JAEGER === "0") {
    say("traces: off (RUN_LOCAL_JAEGER=0)", color.dim);
    return undefined;
  }
  const bin = findTool("jaeger");
  if (!bin) {
    // Tracing is optional: the stack runs without it, but says how to get it.
    say(
      `traces: off, no Jaeger: ${
        toolMissingReason("jaeger")
      }\n  or RUN_LOCAL_JAEGER=0 to run without it`,
      color.yellow,
    );
    return undefined;
  }
  await stopLeftover(pidDir, "jaeger", JAEGER_CONFIG, root);
  const jaegerPort = async (name: string, preferred: number): Promise<number> => {
    const wanted = smoke && !env[name] ? 0 : Number(env[name] || preferred);
    const { port, moved } = await pickPort(wanted);
    if (moved) {
      say(
        `port ${wanted} (${name}) is taken (another Jaeger?): Jaeger uses ${port} instead`,
        color.yellow,
      );
    }
    return port;
  };
  const ui = await jaegerPort("JAEGER_UI_PORT", JAEGER_UI_PORT);
  const otlpPort = await jaegerPort("JAEGER_OTLP_PORT", JAEGER_OTLP_PORT);
  const verbose = env.LOG_LEVEL === "debug";
  jaeger = watch(
    new Child({
      name: "jaeger",
      command: bin,
      args: ["--config", JAEGER_CONFIG],
      cwd: root,
      // jaeger.yaml reads its ports from these.
      env: {
        ...env,
        JAEGER_UI_PORT: String(ui),
        JAEGER_OTLP_PORT: String(otlpPort),
        JAEGER_LISTEN_HOST: env.JAEGER_LISTEN_HOST || "127.0.0.1",
      },
      paint: color.gray,
      filter: (line) => {
        // A go-built Jaeger has no UI assets (README, Tracing): say so in a line, not
        // its whole log record.
        if (line.includes("ui assets not embedded")) {
          return env.JAEGER_UI_ASSETS
            ? undefined
            : "no UI assets in this build: the UI page is a placeholder (the query API works; JAEGER_UI_ASSETS=<dir> serves a built Jaeger UI)";
        }
        // Jaeger logs every start-up step; show problems only unless LOG_LEVEL=debug.
        return verbose || /\t(warn|error|fatal|panic)\t|"level":"(warn|error|fatal)"/i.test(line)
          ? line
          : undefined;
      },
      pidDir,
    }),
  );
  // The query API, not the UI page: the tests and a trace search need it.
  const ok = await waitForHttp(
    `http://127.0.0.1:${ui}/api/services`,
    30_000,
    () => !jaeger!.exited,
  );
  if (!ok) {
    return failStart(`jaeger (${bin}) did not serve its query API on port ${ui}`, jaeger.tail);
  }
  const otlp = `http://127.0.0.1:${otlpPort}`;
  jaegerUiPort = ui;
  say(`Jaeger UI http://localhost:${ui} (${shownDir(bin)}; the services send traces to ${otlp})`);
  return otlp;
}

/** The edges' JWT settings, unless the developer configured auth otherwise. */
function edgeAuth(): { secret: string; env: ReturnType<typeof edgeEnv> } | undefined {
  if (env.JETMESH_JWT_PUBLIC_KEY_FILE || env.JETMESH_JWT_JWKS_URL || env.JETMESH_AUTH === "none") {
    return undefined;
  }
  const file = join(dataDir, "jwt-secret");
  const { secret, generated, fromEnv } = localJwtSecret(file, env);
  if (generated) {
    say(
      `JWT: HS256 secret generated into ${
        shownDir(file)
      } (mode 0600); JETMESH_JWT_SECRET overrides`,
    );
  } else {say(
      `JWT: HS256 secret from ${fromEnv ? "JETMESH_JWT_SECRET" : shownDir(file)}`,
      color.dim,
    );}
  return {
    secret,
    env: edgeEnv(root, secret, { ingest: portOf(services[0]), notify: portOf(services[3]) }, env),
  };
}

/** How to try it with a token: the one printed, or another from /dev/token. */
function tokenLines(token: string, ingest: number, notify: number, kept: boolean): string[] {
  return [
    `  token    alice (12 h${
      kept ? ", also JETMESH_TOKEN in .data/run-local.env" : ""
    }; any name: curl -s 'http://localhost:${notify}/dev/token?name=bob'):`,
    `           TOKEN=${token}`,
    `  try      curl -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"channel":"chat.lobby","data":{"text":"hi"}}' http://localhost:${ingest}/v1/publish`,
    `           curl -H "Authorization: Bearer $TOKEN" 'http://localhost:${notify}/v1/history?channel=chat.lobby'`,
    `           websocat "ws://localhost:${notify}/v1/ws?token=$TOKEN"   then {"op":"sub","channel":"chat.lobby","after":"0-0"}`,
  ];
}

async function main(): Promise<void> {
  for (const s of services) {
    if (!existsSync(join(root, `cmd/${s.name}/main.ts`))) {
      shout(`cmd/${s.name}/main.ts is missing`);
      process.exit(1);
    }
  }
  mkdirSync(pidDir, { recursive: true });
  for (const s of services) await stopLeftover(pidDir, s.name, `cmd/${s.name}/main.ts`, root);
  // Nothing of a development stack (least of all /dev/token) is for other machines.
  for (const s of services) env[s.portVar.replace(/_PORT$/, "_HOST")] ||= "127.0.0.1";
  if (smoke) {
    // Free ports, so a smoke run works beside a running run-local.
    for (const s of services) {
      for (const { v } of listeners(s)) env[v] = String((await pickPort(0)).port);
    }
  }
  // Fail early with a clear message instead of a service dying on EADDRINUSE.
  for (const s of services) {
    for (const { v, port } of listeners(s)) {
      const host = env[v.replace(/_PORT$/, "_HOST")] || env[s.portVar.replace(/_PORT$/, "_HOST")] ||
        "0.0.0.0";
      if (!(await canListen(port, host))) {
        shout(`port ${port} (${v}) is in use: stop what uses it or set ${v}=<port>`);
        process.exit(1);
      }
    }
  }

  const natsUrl = await startNats();
  await migrate(natsUrl);
  if (stopping) return;
  const databaseUrl = await startPglite();
  const embedded = pglite !== undefined;
  const otlp = await startJaeger();
  const auth = edgeAuth();

  for (const s of services) {
    // Each service as its own NATS user (with an external server: as NATS_USER says).
    const childEnv: NodeJS.ProcessEnv = {
      ...env,
      NATS_URL: natsUrl,
      ...(natsPasswords ? userEnv(s.name, natsPasswords) : {}),
    };
    if (otlp) childEnv.OTEL_EXPORTER_OTLP_ENDPOINT = otlp;
    if (auth && (s.name === "ingest" || s.name === "notify")) {
      Object.assign(childEnv, auth.env[s.name]);
    }
    if (s.usesDatabase) {
      childEnv.DATABASE_URL = databaseUrl;
      if (embedded) childEnv.DATABASE_POOL_MAX = "1";
    }
    watch(
      new Child({
        name: s.name,
        command: process.execPath,
        args: ["--import", "tsx", join(root, `cmd/${s.name}/main.ts`)],
        cwd: root,
        env: childEnv,
        paint: s.paint,
        filter: (line) => formatLogLine(line, rawLogs),
        pidDir,
      }),
    );
  }

  const healthy = await Promise.all(
    services.map((s) => {
      const c = children.find((x) => x.name === s.name)!;
      return waitForHttp(
        `http://127.0.0.1:${opsPortOf(s)}/healthz`,
        60_000,
        () => !c.exited && !stopping,
      );
    }),
  );
  if (stopping) return;
  const ingest = portOf(services[0]);
  const notify = portOf(services[3]);
  const token = auth ? await printedToken(auth.secret, "alice") : undefined;
  const access = natsPasswords
    ? adminAccess({
      natsUrl,
      passwords: natsPasswords,
      dataDir,
      smoke,
      shownDir,
      databaseUrl: embedded ? databaseUrl : undefined,
      token,
    })
    : [];
  const lines = [
    "",
    color.bold("jetmesh is running") +
    (healthy.every(Boolean) ? "" : color.yellow("  (some /healthz did not answer yet)")),
    `  chat     http://localhost:${notify}/               the demo page (sign in with any name)`,
    `  ingest   ws://localhost:${ingest}/v1/ws         publish over WebSocket`,
    `           http://localhost:${ingest}/v1/publish  POST {"id","channel","data"}`,
    `  notify   ws://localhost:${notify}/v1/ws         subscribe`,
    `           http://localhost:${notify}/v1/history  GET ?channel=...&after=...`,
    `  health   ${
      services.map((s, i) => `${healthy[i] ? "" : "(!)"}http://localhost:${opsPortOf(s)}/healthz`)
        .join("  ")
    }`,
    `  metrics  ${services.map((s) => `http://localhost:${opsPortOf(s)}/metrics`).join("  ")}`,
    `  traces   ${
      jaegerUiPort
        ? `Jaeger UI http://localhost:${jaegerUiPort}`
        : OTEL_VARIABLES.some((v) => env[v])
        ? "as the OTEL_* variables say"
        : "off"
    }`,
    `  NATS     ${natsUrl}${natsPasswords ? " (a user per service; admin for tools)" : ""}`,
    ...access.map((l) => `  ${l}`),
    `  database ${embedded ? `${databaseUrl} (embedded PGlite)` : "DATABASE_URL"}`,
    ...(auth
      ? tokenLines(token!, ingest, notify, access.length > 0 && !smoke)
      : [`  auth     as JETMESH_AUTH / JETMESH_JWT_* say (no dev tokens)`]),
    `  check    make smoke-running   stop  Ctrl-C`,
    "",
  ];
  if (!smoke) {
    for (const l of lines) say(l);
    return;
  }
  say(
    `stack ready (${
      healthy.every(Boolean) ? "all healthy" : "some /healthz did not answer"
    }); running the smoke check`,
  );
  const check = new Child({
    name: "smoke",
    command: process.execPath,
    args: [
      "--import",
      "tsx",
      join(root, "infra/local/smoke.ts"),
      `http://127.0.0.1:${ingest}`,
      `http://127.0.0.1:${notify}`,
    ],
    cwd: root,
    env: jaegerUiPort ? { ...env, SMOKE_JAEGER_URL: `http://127.0.0.1:${jaegerUiPort}` } : env,
    paint: color.bold,
    pidDir,
  });
  const { code, signal } = await check.done;
  if (stopping) return;
  await shutdown(
    code === 0 ? 0 : 1,
    code === 0
      ? "smoke check passed: stopping"
      : `smoke check failed (code ${code}, signal ${signal}): stopping`,
  );
}

main().catch((err) => {
  void failStart(
    `run-local failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`,
  );
});

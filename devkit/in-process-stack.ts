import { startIngest } from "../internal/ingest/app.ts";
import { readIngestConfig } from "../internal/ingest/config.ts";
import type { RunningService } from "../internal/lifecycle/mod.ts";
import { createLogger, type Logger } from "../internal/log/mod.ts";
import { startNotify } from "../internal/notify/app.ts";
import { readNotifyConfig } from "../internal/notify/config.ts";
import { startPersist } from "../internal/persist/app.ts";
import { readPersistConfig } from "../internal/persist/config.ts";
import { startRoute } from "../internal/route/app.ts";
import { readRouteConfig } from "../internal/route/config.ts";
import type { RouteStep } from "../internal/route/relay.ts";
import { type NatsServerHandle, startNatsServer } from "./nats-server.ts";
import { migrateAsAdmin, type NatsCredentials, natsUsers } from "./nats-users.ts";
import { type TestDatabase, testDatabase } from "./test-db.ts";
import { SERVICE_NAMES, type ServiceName } from "./catalog.ts";
import { tempNamespaces } from "./namespaces-file.ts";
import { backingEnv, listenEnv, type ServicePorts } from "./service-env.ts";

export interface Stack {
  nats: NatsServerHandle;
  db: TestDatabase;
  /**
   * The stack's shared environment, with the NATS admin user's NATS_USER and
   * NATS_PASSWORD: what a test's own tools (replay, a config reader, an extra
   * service) connect with. Each of the four services runs as its own user.
   */
  env: Record<string, string>;
  /**
   * The admin user of `nats`, for tests that use the JetStream API:
   * `connect({ servers: stack.nats.url, ...stack.admin })`. Undefined when the
   * test brought its own server without giving its admin (StackOptions.nats).
   */
  admin: NatsCredentials | undefined;
  /**
   * The environment one of the services runs with (its own NATS user): for a second instance
   * of it.
   */
  serviceEnv(name: ServiceName): Record<string, string>;
  ingestHttp: string;
  ingestWs: string;
  notifyHttp: string;
  notifyWs: string;
  /**
   * http://127.0.0.1:PORT of a service's /healthz, /readyz and /metrics (the only port of
   * route and persist).
   */
  opsUrl(name: ServiceName): string;
  /** Stops one service gracefully. */
  stopService(name: ServiceName): Promise<void>;
  /**
   * Starts a stopped service again, on the same port for the edges; `options` replace the
   * stack's.
   */
  startService(name: ServiceName, options?: StackOptions): Promise<void>;
  stop(): Promise<void>;
}

/** Log sink for tests: quiet unless JETMESH_TEST_LOG is set. */
export function testLogger(svc: string): Logger {
  const show = Boolean(process.env.JETMESH_TEST_LOG);
  return createLogger({ svc }, {
    level: show ? "debug" : "error",
    sink: (line) => show ? console.error(line) : undefined,
  });
}

export interface StackOptions {
  /** Routing step for route (tests make it fail on purpose). */
  routeStep?: RouteStep;
  /** Variables for one service on top of the stack's (e.g. its own NATS user). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /**
   * A nats-server the test started (e.g. with a config file); the stack then
   * neither starts nor stops one. Its services connect with what `serviceEnv`
   * gives them, the migration with `admin`.
   */
  nats?: NatsServerHandle;
  /**
   * The admin user of `nats`, for the migration; without it the migration connects without
   * credentials.
   */
  admin?: NatsCredentials;
}

const starters: Record<
  ServiceName,
  (env: Record<string, string>, o: StackOptions) => Promise<RunningService>
> = {
  ingest: (env) => startIngest(readIngestConfig(env), testLogger("ingest")),
  route: (env, o) => startRoute(readRouteConfig(env), testLogger("route"), o.routeStep),
  persist: (env) => startPersist(readPersistConfig(env), testLogger("persist")),
  notify: (env) => startNotify(readNotifyConfig(env), testLogger("notify")),
};

const UNTHROTTLED = tempNamespaces("ns", {
  defaults: {
    publishRate: { perSecond: 1_000_000, burst: 1_000_000 },
    commandRate: { perSecond: 1_000_000, burst: 1_000_000 },
  },
}).file;

/**
 * The environment of a test stack's services: its nats-server, its schema,
 * loopback listeners on `ports` (0: any free port), and any free port for the
 * operations listeners of ingest and notify.
 */
export function stackEnv(
  natsUrl: string,
  db: TestDatabase,
  ports: ServicePorts,
): Record<string, string> {
  return {
    ...backingEnv([natsUrl], db, 4),
    // Pipeline tests run open; tests of the edges' security pass jwtAuth().env
    // (devkit/tokens.ts) as extraEnv.
    JETMESH_AUTH: "none",
    // ...and unthrottled: they publish as fast as they can from one address. Tests of the
    // limits bring their own file.
    JETMESH_NAMESPACES: UNTHROTTLED,
    ...listenEnv(ports),
  };
}

/**
 * The four services in this process, on a nats-server of their own and a
 * schema of their own in the test PostgreSQL: a whole jetmesh per test file.
 * The server has the users of infra/nats/users.conf (fresh passwords); the
 * migration runs as admin, then each service starts as its own user.
 */
export async function startStack(
  extraEnv: Record<string, string> = {},
  options: StackOptions = {},
): Promise<Stack> {
  const users = options.nats ? undefined : natsUsers();
  const nats = options.nats ?? await startNatsServer(users!.server);
  const admin = options.admin ?? users?.admin;
  const db = await testDatabase();
  const shared = {
    ...stackEnv(nats.url, db, { ingest: 0, route: 0, persist: 0, notify: 0 }),
    ...extraEnv,
  };
  const env = admin ? { ...shared, NATS_USER: admin.user, NATS_PASSWORD: admin.pass } : shared;
  try {
    await migrateAsAdmin([nats.url], shared, admin);
  } catch (err) {
    if (options.nats === undefined) await nats.stop();
    await db.drop();
    throw err;
  }
  const running = new Map<ServiceName, RunningService>();
  const ports = new Map<ServiceName, number>();
  const opsPorts = new Map<ServiceName, number>();
  const envOf = (name: ServiceName, o: StackOptions = options) => ({
    ...shared,
    ...users?.serviceEnv(name),
    ...o.serviceEnv?.[name],
  });
  const start = async (name: ServiceName, o: StackOptions = options) => {
    const portVar = `${name.toUpperCase()}_PORT`;
    // Clients reconnect to the edges' known ports. The workers' operations port
    // is new on each start: a scrape's keep-alive connection, closed by the
    // server on stop, leaves a TIME_WAIT that uWS cannot listen over.
    const port = name === "ingest" || name === "notify" ? ports.get(name) : undefined;
    const own = envOf(name, o);
    const svcEnv = port === undefined ? own : { ...own, [portVar]: String(port) };
    // uWS releases a closed port on its next loop turn, so a quick restart may find it still bound.
    let svc: RunningService | undefined;
    for (let attempt = 1; svc === undefined; attempt++) {
      svc = await starters[name](svcEnv, o).catch(async (err) => {
        if (attempt >= 20 || !/cannot listen/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 100));
        return undefined;
      });
    }
    running.set(name, svc);
    ports.set(name, svc.port);
    opsPorts.set(name, svc.opsPort);
  };
  for (const name of SERVICE_NAMES) await start(name);
  const stopService = async (name: ServiceName) => {
    const svc = running.get(name);
    running.delete(name);
    await svc?.stop();
  };
  return {
    nats,
    db,
    env,
    admin,
    serviceEnv: (name) => envOf(name),
    ingestHttp: `http://127.0.0.1:${ports.get("ingest")}`,
    ingestWs: `ws://127.0.0.1:${ports.get("ingest")}/v1/ws`,
    notifyHttp: `http://127.0.0.1:${ports.get("notify")}`,
    notifyWs: `ws://127.0.0.1:${ports.get("notify")}/v1/ws`,
    opsUrl: (name) => `http://127.0.0.1:${opsPorts.get(name)}`,
    stopService,
    startService: start,
    async stop() {
      for (const name of ["ingest", "notify", "route", "persist"] as const) await stopService(name);
      if (options.nats === undefined) await nats.stop();
      await db.drop();
    },
  };
}

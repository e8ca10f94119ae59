/**
 * The stack under test, started the way `make run-local` starts it: its own
 * nats-server (free ports, temporary store) with the users of
 * infra/nats/users.conf, the migration run as admin, a schema of its own in
 * the PostgreSQL at DATABASE_URL, and the four services as separate Node
 * processes, each as its own NATS user. Auth is on, as in production: every
 * client connects with a token, so the figures include verifying it once per
 * connection and the authorization and rate-limit checks on every frame.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isServiceName, SERVICE_NAMES, type ServiceName } from "../devkit/catalog.ts";
import { ServiceLauncher } from "../devkit/launcher.ts";
import { type NatsServerHandle, startNatsServer } from "../devkit/nats-server.ts";
import { migrateAsAdmin, type NatsUsers, natsUsers } from "../devkit/nats-users.ts";
import { backingEnv, freeServicePorts, listenEnv } from "../devkit/service-env.ts";
import { type TestDatabase, testDatabase } from "../devkit/test-db.ts";
import { jwtAuth, mintToken } from "../devkit/tokens.ts";
import { type TempNamespaces, tempNamespaces } from "../devkit/namespaces-file.ts";

/**
 * What node prints on stderr about its inspector, which the idle phase turns on: not a complaint
 * of the service.
 */
const INSPECTOR_LINE =
  /^(Debugger (listening|attached|ending)|For help, see: https:\/\/nodejs\.org\/en\/docs\/inspector)/;

/**
 * Limits the bench's load stays under, so what it measures is the services'
 * capacity and not a policy: the sustained phase publishes tens of thousands
 * of events per second as one identity, and the idle phase holds 20k
 * connections from one address, each subscribing once. The checks still run
 * on every publish and command; they just never refuse.
 */
const NAMESPACES = {
  defaults: {
    publishRate: { perSecond: 10_000_000, burst: 10_000_000 },
    commandRate: { perSecond: 10_000_000, burst: 10_000_000 },
  },
  connections: { perAddress: 10_000_000, perIdentity: 10_000_000 },
};
/**
 * The bench's namespaces file with `namespaces` in it (an example's, with its processing
 * rules), for a service restarted on it.
 */
export function benchNamespacesWith(namespaces: unknown[]): TempNamespaces {
  return tempNamespaces("bench-ns", { ...NAMESPACES, namespaces });
}

/** Longer than a full run: an expiry would close the clients' connections mid-phase. */
const TOKEN_LIFETIME_S = 6 * 3600;

export interface BenchStack {
  env: Record<string, string>;
  ingestWs: string;
  /** Ingest's HTTP API (`POST /v1/publish`). */
  ingestHttp: string;
  notifyWs: string;
  /**
   * A token for `sub` that may publish and subscribe everywhere, valid for the whole run; one
   * per client worker.
   */
  token(sub: string): Promise<string>;
  pids(): Record<string, number>;
  /** What `name` runs with: a further replica of it (the replicas phase) starts with this. */
  envOf(name: ServiceName): NodeJS.ProcessEnv;
  /**
   * Warnings and errors the services logged so far, counted by service and message, with the
   * first of each.
   */
  complaints(): Complaint[];
  /**
   * Writes every service process's log lines, one JSON object per line, into
   * `dir`/<service>-<n>.log.
   */
  writeLogs(dir: string): void;
  /**
   * Stops one service and starts a fresh process in its place, on the same port; `nodeArgs` go
   * to node before the entry point, `env` over the stack's (until the next restart).
   */
  restart(name: ServiceName, nodeArgs?: string[], env?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export interface Complaint {
  service: string;
  level: string;
  msg: string;
  count: number;
  first: Record<string, unknown>;
}

/**
 * The bench's nats-server and its users; the raw ceilings connect as `users.admin` (they make
 * streams of their own).
 */
export type BenchNats = NatsServerHandle & { users: NatsUsers };

export async function startNats(): Promise<BenchNats> {
  const users = natsUsers();
  // Object.assign keeps the handle's getters (url, pid).
  return Object.assign(await startNatsServer({ name: "bench-nats", ...users.server }), { users });
}

export async function benchDatabase(): Promise<TestDatabase> {
  return await testDatabase();
}

/**
 * `profile`: services to run under `node --cpu-prof`, writing into `profileDir`/<service>-<n>/
 * when they exit.
 */
export async function startServices(
  nats: BenchNats,
  db: TestDatabase,
  profile: string[] = [],
  profileDir = "",
): Promise<BenchStack> {
  for (const p of profile) {
    if (!isServiceName(p)) throw new Error(`--profile: unknown service ${p}`);
  }
  const ports = await freeServicePorts();
  const auth = jwtAuth();
  const namespaces = tempNamespaces("bench", NAMESPACES);
  const env: Record<string, string> = {
    ...backingEnv([nats.url], db),
    LOG_LEVEL: "info",
    ...auth.env,
    JETMESH_NAMESPACES: namespaces.file,
    ...listenEnv(ports),
    // The idle phase holds 20k connections on one notify; the default limit is 10k.
    NOTIFY_MAX_CONNECTIONS: "50000",
  };
  /** What a restart put over `env`, per service. */
  const overrides = new Map<ServiceName, Record<string, string>>();
  // One try per start, as before the launcher: a failed start fails the run.
  const services = new ServiceLauncher({
    env,
    own: (name) => ({ ...nats.users.serviceEnv(name), ...overrides.get(name) }),
    attempts: 1,
  });
  let starts = 0;
  // A directory per process: tsx's loader thread writes a profile of its own, with a name of
  // its own.
  const profileArgs = (name: ServiceName) =>
    profile.includes(name)
      ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}/${name}-${++starts}`]
      : [];
  await migrateAsAdmin([nats.url], env, nats.users.admin);
  // One at a time: a 2-core machine starts them no faster in parallel.
  for (const name of SERVICE_NAMES) await services.start(name, profileArgs(name));
  return {
    env,
    ingestWs: `ws://127.0.0.1:${ports.ingest}/v1/ws`,
    ingestHttp: `http://127.0.0.1:${ports.ingest}`,
    notifyWs: `ws://127.0.0.1:${ports.notify}/v1/ws`,
    token: (sub) =>
      mintToken(auth.secret, sub, {
        publish: [">"],
        subscribe: [">"],
        expiresIn: TOKEN_LIFETIME_S,
      }),
    pids: () =>
      Object.fromEntries(SERVICE_NAMES.map((n) => [n, services.process(n).child.pid ?? -1])),
    envOf: (name) => services.envOf(name),
    complaints() {
      const out = new Map<string, Complaint>();
      for (const p of services.history) {
        for (const l of p.logs) {
          const level = String(l.level ?? (l.raw ? "stderr" : ""));
          if (level !== "warn" && level !== "error" && level !== "stderr") continue;
          if (level === "stderr" && INSPECTOR_LINE.test(String(l.msg))) continue;
          const key = `${p.name} ${level} ${String(l.msg)}`;
          const c = out.get(key);
          if (c) c.count++;
          else out.set(key, { service: p.name, level, msg: String(l.msg), count: 1, first: l });
        }
      }
      return [...out.values()];
    },
    writeLogs(dir) {
      mkdirSync(dir, { recursive: true });
      const counts = new Map<string, number>();
      for (const p of services.history) {
        const n = (counts.get(p.name) ?? 0) + 1;
        counts.set(p.name, n);
        writeFileSync(
          join(dir, `${p.name}-${n}.log`),
          p.logs.map((l) => JSON.stringify(l)).join("\n") + "\n",
        );
      }
    },
    async restart(name, nodeArgs = [], extra = {}) {
      overrides.set(name, extra);
      await services.restart(name, [...profileArgs(name), ...nodeArgs]);
    },
    async stop() {
      for (const name of SERVICE_NAMES) {
        const code = await services.stop(name);
        if (code !== 0) {
          process.stderr.write(
            `bench: ${name} exited with ${code}: ${
              JSON.stringify(services.process(name).logs.slice(-3))
            }\n`,
          );
        }
      }
      namespaces.remove();
    },
  };
}

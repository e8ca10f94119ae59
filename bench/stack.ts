/**
 * The stack under test, started the way `make run-local` starts it: its own
 * nats-server (free ports, temporary store) with the users of
 * infra/nats/users.conf, the migration run as admin, a schema of its own in
 * the PostgreSQL at DATABASE_URL, and the four services as separate Node
 * processes, each as its own NATS user. Auth is on, as in production: every
 * client connects with a token, so the figures include verifying it once per
 * connection and the authorization and rate-limit checks on every frame.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServiceProcess, spawnService } from "../test/e2e/processes.ts";
import type { ServiceName } from "../test/e2e/stack.ts";
import { type TestDatabase, testDatabase } from "../test/helpers/db.ts";
import { type NatsServerHandle, startNatsServer } from "../test/helpers/nats-server.ts";
import { migrateAsAdmin, type NatsUsers, natsUsers } from "../test/helpers/nats-users.ts";
import { freePorts } from "../test/helpers/ports.ts";
import { jwtAuth, mintToken } from "../test/helpers/tokens.ts";

export const SERVICES: ServiceName[] = ["ingest", "route", "persist", "notify"];

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
/** Longer than a full run: an expiry would close the clients' connections mid-phase. */
const TOKEN_LIFETIME_S = 6 * 3600;

export interface BenchStack {
  env: Record<string, string>;
  ingestWs: string;
  notifyWs: string;
  /**
   * A token for `sub` that may publish and subscribe everywhere, valid for the whole run; one
   * per client worker.
   */
  token(sub: string): Promise<string>;
  pids(): Record<string, number>;
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
   * to node before the entry point.
   */
  restart(name: ServiceName, nodeArgs?: string[]): Promise<void>;
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
    if (!(SERVICES as string[]).includes(p)) throw new Error(`--profile: unknown service ${p}`);
  }
  const [ingest, notify, route, persist] = await freePorts(4);
  const auth = jwtAuth();
  const dir = mkdtempSync(join(tmpdir(), "jm-bench-"));
  const namespacesFile = join(dir, "namespaces.json");
  writeFileSync(namespacesFile, JSON.stringify(NAMESPACES));
  const env: Record<string, string> = {
    NATS_URL: nats.url,
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    LOG_LEVEL: "info",
    ...auth.env,
    JETMESH_NAMESPACES: namespacesFile,
    INGEST_HOST: "127.0.0.1",
    INGEST_PORT: String(ingest),
    INGEST_OPS_PORT: "0",
    NOTIFY_HOST: "127.0.0.1",
    NOTIFY_PORT: String(notify),
    NOTIFY_OPS_PORT: "0",
    // The idle phase holds 20k connections on one notify; the default limit is 10k.
    NOTIFY_MAX_CONNECTIONS: "50000",
    ROUTE_HOST: "127.0.0.1",
    ROUTE_PORT: String(route),
    PERSIST_HOST: "127.0.0.1",
    PERSIST_PORT: String(persist),
  };
  const procs = new Map<ServiceName, ServiceProcess>();
  // Processes replaced by `restart` keep their logs here.
  const retired: ServiceProcess[] = [];
  let starts = 0;
  const start = async (name: ServiceName, nodeArgs: string[] = []) => {
    // A directory per process: tsx's loader thread writes a profile of its own, with a name
    // of its own.
    const dir = `${profileDir}/${name}-${++starts}`;
    const p = spawnService(name, { ...env, ...nats.users.serviceEnv(name) }, "node", [
      ...(profile.includes(name) ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : []),
      ...nodeArgs,
    ]);
    procs.set(name, p);
    await p.waitForLog(/listening|running/, 60_000);
  };
  await migrateAsAdmin([nats.url], env, nats.users.admin);
  // One at a time: a 2-core machine starts them no faster in parallel.
  for (const name of SERVICES) await start(name);
  return {
    env,
    ingestWs: `ws://127.0.0.1:${ingest}/v1/ws`,
    notifyWs: `ws://127.0.0.1:${notify}/v1/ws`,
    token: (sub) =>
      mintToken(auth.secret, sub, {
        publish: [">"],
        subscribe: [">"],
        expiresIn: TOKEN_LIFETIME_S,
      }),
    pids: () => Object.fromEntries([...procs].map(([n, p]) => [n, p.child.pid ?? -1])),
    complaints() {
      const out = new Map<string, Complaint>();
      for (const p of [...retired, ...procs.values()]) {
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
      for (const p of [...retired, ...procs.values()]) {
        const n = (counts.get(p.name) ?? 0) + 1;
        counts.set(p.name, n);
        writeFileSync(
          join(dir, `${p.name}-${n}.log`),
          p.logs.map((l) => JSON.stringify(l)).join("\n") + "\n",
        );
      }
    },
    async restart(name, nodeArgs) {
      const old = procs.get(name);
      await old?.stop();
      if (old) retired.push(old);
      await start(name, nodeArgs);
    },
    async stop() {
      for (const name of SERVICES) {
        const code = await procs.get(name)?.stop();
        if (code !== 0) {
          process.stderr.write(
            `bench: ${name} exited with ${code}: ${
              JSON.stringify(procs.get(name)?.logs.slice(-3))
            }\n`,
          );
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

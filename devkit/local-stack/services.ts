/**
 * The services of the catalog as run-local's children: where they listen
 * (their defaults, or <SVC>_PORT / <SVC>_OPS_PORT), checked free before
 * anything starts, and each started with what it needs.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  hostVariable,
  listenersOf,
  type ServiceName,
  SERVICES,
  type ServiceSpec,
} from "../catalog.ts";
import { freePort, isPortFree } from "../ports.ts";
import { Child } from "./child.ts";
import { color, formatLogLine, type Paint } from "./console.ts";
import type { LocalContext } from "./context.ts";
import { authEnvOf, type EdgeEnv } from "./dev-auth.ts";
import { stopLeftover } from "./leftovers.ts";
import { type Passwords, userEnv } from "./nats-access.ts";
import { waitForHttp } from "./ready.ts";

const PAINT: Record<ServiceName, Paint> = {
  ingest: color.cyan,
  route: color.magenta,
  persist: color.blue,
  notify: color.green,
};

export function portOf(env: NodeJS.ProcessEnv, s: ServiceSpec): number {
  return Number(env[s.port.variable] || s.port.defaultPort);
}

/** Where /healthz and /metrics are. */
export function opsPortOf(env: NodeJS.ProcessEnv, s: ServiceSpec): number {
  return Number(env[s.ops.variable] || s.ops.defaultPort);
}

/**
 * Before anything starts: every entry point is there, leftovers of a killed
 * run are gone, every service binds to loopback unless told otherwise, and
 * every port it will listen on is free. Returns why not, or undefined.
 * Sets the hosts (and with --smoke free ports) in `ctx.env`.
 */
export async function prepareServices(ctx: LocalContext): Promise<string | undefined> {
  const { env } = ctx;
  for (const s of SERVICES) {
    if (!existsSync(join(ctx.root, s.entry))) return `${s.entry} is missing`;
  }
  for (const s of SERVICES) await stopLeftover(ctx.pidDir, s.name, s.entry, ctx.root);
  // Nothing of a development stack (least of all /dev/token) is for other machines.
  for (const s of SERVICES) env[hostVariable(s)] ||= "127.0.0.1";
  if (ctx.smoke) {
    // Free ports, so a smoke run works beside a running run-local.
    for (const s of SERVICES) {
      for (const l of listenersOf(s)) env[l.variable] = String(await freePort());
    }
  }
  // Fail early with a clear message instead of a service dying on EADDRINUSE.
  for (const s of SERVICES) {
    for (const l of listenersOf(s)) {
      const v = l.variable;
      const port = Number(env[v] || l.defaultPort);
      const host = env[v.replace(/_PORT$/, "_HOST")] || env[hostVariable(s)] || "0.0.0.0";
      if (!(await isPortFree(port, host))) {
        return `port ${port} (${v}) is in use: stop what uses it or set ${v}=<port>`;
      }
    }
  }
  return undefined;
}

export interface ServiceNeeds {
  natsUrl: string;
  /** The local server's users; undefined with an external NATS_URL. */
  passwords?: Passwords;
  databaseUrl: string;
  /** PGlite takes one connection at a time. */
  embeddedDatabase: boolean;
  otlp?: string;
  /** The edges' JWT settings; undefined when auth is configured otherwise. */
  auth?: EdgeEnv;
}

/** Starts one service of the catalog with what it needs. */
export function startService(ctx: LocalContext, s: ServiceSpec, n: ServiceNeeds): Child {
  // Each service as its own NATS user (with an external server: as NATS_USER says).
  const env: NodeJS.ProcessEnv = {
    ...ctx.env,
    NATS_URL: n.natsUrl,
    ...(n.passwords ? userEnv(s.needs.natsUser, n.passwords) : {}),
  };
  if (n.otlp) env.OTEL_EXPORTER_OTLP_ENDPOINT = n.otlp;
  if (n.auth && s.needs.clientAuth) Object.assign(env, authEnvOf(n.auth, s.name));
  if (s.needs.database) {
    env.DATABASE_URL = n.databaseUrl;
    if (n.embeddedDatabase) env.DATABASE_POOL_MAX = "1";
  }
  return ctx.watch(
    new Child({
      name: s.name,
      command: process.execPath,
      args: ["--import", "tsx", join(ctx.root, s.entry)],
      cwd: ctx.root,
      env,
      paint: PAINT[s.name],
      filter: (line) => formatLogLine(line, ctx.rawLogs),
      pidDir: ctx.pidDir,
    }),
  );
}

/** Waits for every service's /healthz; true for each that answered within a minute. */
export function waitHealthy(
  ctx: LocalContext,
  children: ReadonlyMap<ServiceName, Child>,
  stopping: () => boolean,
): Promise<boolean[]> {
  return Promise.all(SERVICES.map((s) => {
    const c = children.get(s.name)!;
    return waitForHttp(
      `http://127.0.0.1:${opsPortOf(ctx.env, s)}/healthz`,
      60_000,
      () => !c.exited && !stopping(),
    );
  }));
}

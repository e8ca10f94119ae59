/**
 * The services of the catalog as run-local's children: where they listen
 * (their defaults, or <SVC>_PORT / <SVC>_OPS_PORT, and replicas.ts for the
 * replicas past the first), checked free before anything starts, and each
 * started with what it needs, through the same ServiceLauncher the tests, the
 * fault suite and the bench use.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  CATALOG,
  hostVariable,
  listenersOf,
  type ServiceName,
  SERVICES,
  type ServiceSpec,
} from "../catalog.ts";
import { freePort, isPortFree } from "../ports.ts";
import { instanceLabel, ServiceLauncher } from "../launcher.ts";
import { color, formatLogLine, type Paint } from "./console.ts";
import { childOptions, type LocalContext } from "./context.ts";
import { authEnvOf, type EdgeEnv } from "./dev-auth.ts";
import { stopLeftover } from "./leftovers.ts";
import { type Passwords, userEnv } from "./nats-access.ts";
import { waitForHttp } from "./ready.ts";
import { pidFileLabels, replicaCount, replicaPorts } from "./replicas.ts";

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
 * Before anything starts: every entry point is there, the replica count is
 * one run-local can run, leftovers of a killed run are gone, every service
 * binds to loopback unless told otherwise, and every port a replica will
 * listen on is free. Returns why not, or undefined. Sets the hosts (and with
 * --smoke free ports) in `ctx.env`, the replica count and their ports in `ctx`.
 */
export async function prepareServices(ctx: LocalContext): Promise<string | undefined> {
  const { env } = ctx;
  for (const s of SERVICES) {
    if (!existsSync(join(ctx.root, s.entry))) return `${s.entry} is missing`;
  }
  const replicas = replicaCount(env);
  if (typeof replicas === "string") return replicas;
  ctx.replicas = replicas;
  // An earlier run may have had another replica count: its pid files say which ran.
  for (const s of SERVICES) {
    for (const label of pidFileLabels(ctx.pidDir, s.name)) {
      await stopLeftover(ctx.pidDir, label, s.entry, ctx.root);
    }
  }
  // Nothing of a development stack (least of all /dev/token) is for other machines.
  for (const s of SERVICES) env[hostVariable(s)] ||= "127.0.0.1";
  if (ctx.smoke) {
    // Free ports, so a smoke run works beside a running run-local.
    for (const s of SERVICES) {
      for (const l of listenersOf(s)) env[l.variable] = String(await freePort());
    }
  }
  ctx.replicaPorts = await replicaPorts(env, replicas, ctx.smoke);
  // Fail early with a clear message instead of a service dying on EADDRINUSE.
  for (const s of SERVICES) {
    for (let instance = 0; instance < replicas; instance++) {
      const label = instanceLabel({ name: s.name, instance });
      const own = ctx.replicaPorts.get(label) ?? {};
      for (const l of listenersOf(s)) {
        const v = l.variable;
        const port = Number(own[v] || env[v] || l.defaultPort);
        const host = env[v.replace(/_PORT$/, "_HOST")] || env[hostVariable(s)] || "0.0.0.0";
        if (!(await isPortFree(port, host))) {
          const whose = instance === 0 ? v : `${v} of ${label}`;
          return `port ${port} (${whose}) is in use: stop what uses it or set ${v}=<port>`;
        }
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

export interface LocalServices {
  launcher: ServiceLauncher;
  /** Whether every replica of each service (in catalog order) answered /healthz once started. */
  healthy(): boolean[];
}

/**
 * A launcher for the services as run-local's children, each with what it needs. One try per
 * start: a service that does not come up is a failure for the developer to see, not to retry.
 */
export function serviceLauncher(
  ctx: LocalContext,
  n: ServiceNeeds,
  stopping: () => boolean,
): LocalServices {
  const env: NodeJS.ProcessEnv = { ...ctx.env, NATS_URL: n.natsUrl };
  if (n.otlp) env.OTEL_EXPORTER_OTLP_ENDPOINT = n.otlp;
  const healthy = new Map<string, boolean>();
  const launcher = new ServiceLauncher({
    env,
    replicas: Object.fromEntries(SERVICES.map((s) => [s.name, ctx.replicas])),
    replicaPorts: (name, instance) => {
      const label = instanceLabel({ name, instance });
      const ports = ctx.replicaPorts.get(label);
      if (!ports) throw new Error(`${label}: prepareServices placed no replica ${instance}`);
      return ports;
    },
    own: (name) => {
      const s = CATALOG[name];
      // Each service as its own NATS user (with an external server: as NATS_USER says).
      const own: NodeJS.ProcessEnv = n.passwords ? userEnv(s.needs.natsUser, n.passwords) : {};
      if (n.auth && s.needs.clientAuth) Object.assign(own, authEnvOf(n.auth, s.name));
      // route runs the processing rules of the namespaces file the edges enforce.
      if (n.auth && s.name === "route") own.JETMESH_NAMESPACES = n.auth.ingest.JETMESH_NAMESPACES;
      if (s.needs.database) {
        own.DATABASE_URL = n.databaseUrl;
        if (n.embeddedDatabase) own.DATABASE_POOL_MAX = "1";
      }
      return own;
    },
    attempts: 1,
    cwd: ctx.root,
    processOptions: (name, instance) =>
      childOptions(
        ctx,
        instanceLabel({ name, instance }),
        PAINT[name],
        (line) => formatLogLine(line, ctx.rawLogs),
      ),
    onSpawn: (proc) => void ctx.watch(proc),
    // Ready is /healthz answering (a developer's LOG_LEVEL may hide the ready line); one that
    // does not answer within a minute is reported as unhealthy, the stack runs on.
    ready: async (proc, { label, opsUrl }) => {
      const ok = await waitForHttp(
        `${opsUrl}/healthz`,
        60_000,
        () => !proc.exited && !stopping(),
      );
      healthy.set(label, ok);
    },
  });
  return {
    launcher,
    healthy: () =>
      SERVICES.map((s) =>
        launcher.refsOf(s.name).every((ref) => healthy.get(instanceLabel(ref)) ?? false)
      ),
  };
}

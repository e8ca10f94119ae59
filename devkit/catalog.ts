/**
 * The one list of jetmesh's services for the dev tooling (run-local, the test
 * stacks, the fault suite, the bench): what each is called, where its entry
 * point is, which ports it listens on and what it needs around it. Anything
 * that starts services reads it here instead of spelling the list again.
 *
 * The default ports are the services' own (their config readers' defaults),
 * imported rather than copied, so the two can never disagree.
 */
import { INGEST_DEFAULT_PORTS } from "../internal/ingest/config.ts";
import { NOTIFY_DEFAULT_PORTS } from "../internal/notify/config.ts";
import { PERSIST_DEFAULT_PORT } from "../internal/persist/config.ts";
import { ROUTE_DEFAULT_PORT } from "../internal/route/config.ts";

/** In start order: the edges first, so a client can connect while the workers come up. */
export const SERVICE_NAMES = ["ingest", "route", "persist", "notify"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The users of infra/nats/users.conf: one per service, and the admin the migration and tools use. */
export const NATS_USERS = [...SERVICE_NAMES, "admin"] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** One listener: the variable that sets its port and the port when it is unset. */
export interface Listener {
  variable: string;
  defaultPort: number;
}

export interface ServiceSpec {
  name: ServiceName;
  /** The entry point, relative to the repository root. */
  entry: string;
  /** Prefix of its variables: <PREFIX>_HOST, <PREFIX>_PORT, <PREFIX>_OPS_PORT. */
  envPrefix: string;
  /** The main listener (WebSocket and HTTP API of the edges; /healthz and /metrics of workers). */
  port: Listener;
  /**
   * Where /healthz, /readyz and /metrics are: a listener of its own on the edges, the main one
   * on route and persist.
   */
  ops: Listener;
  /** The `msg` of the log line it prints once it serves. */
  ready: RegExp;
  needs: {
    /** Connects to NATS as this user of users.conf. */
    natsUser: NatsUser;
    /** Reads and writes PostgreSQL (DATABASE_URL). */
    database: boolean;
    /** Verifies client tokens (JETMESH_AUTH, JETMESH_JWT_*, JETMESH_NAMESPACES). */
    clientAuth: boolean;
  };
}

/**
 * A service laid out as all four are: cmd/<name>/main.ts, variables <NAME>_*, its own NATS
 * user, and `ready` as the word of its "<name> <word>" ready line.
 */
function spec(
  name: ServiceName,
  ports: { port: number; ops?: number },
  ready: "listening" | "running",
  needs: { database: boolean; clientAuth: boolean },
): ServiceSpec {
  const prefix = name.toUpperCase();
  const port = { variable: `${prefix}_PORT`, defaultPort: ports.port };
  return {
    name,
    entry: `cmd/${name}/main.ts`,
    envPrefix: prefix,
    port,
    ops: ports.ops === undefined
      ? port
      : { variable: `${prefix}_OPS_PORT`, defaultPort: ports.ops },
    ready: new RegExp(`^${name} ${ready}$`),
    needs: { natsUser: name, ...needs },
  };
}

export const CATALOG: Readonly<Record<ServiceName, ServiceSpec>> = {
  ingest: spec("ingest", INGEST_DEFAULT_PORTS, "listening", { database: false, clientAuth: true }),
  route: spec("route", { port: ROUTE_DEFAULT_PORT }, "running", {
    database: false,
    clientAuth: false,
  }),
  persist: spec("persist", { port: PERSIST_DEFAULT_PORT }, "running", {
    database: true,
    clientAuth: false,
  }),
  notify: spec("notify", NOTIFY_DEFAULT_PORTS, "listening", { database: true, clientAuth: true }),
};

/** The services in start order. */
export const SERVICES: readonly ServiceSpec[] = SERVICE_NAMES.map((n) => CATALOG[n]);

export function isServiceName(name: string): name is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(name);
}

/** True when the service has an operations listener apart from its main one. */
export function hasOwnOpsPort(s: ServiceSpec): boolean {
  return s.ops.variable !== s.port.variable;
}

/** Every listener of a service: the main one, and the operations one where it is separate. */
export function listenersOf(s: ServiceSpec): Listener[] {
  return hasOwnOpsPort(s) ? [s.port, s.ops] : [s.port];
}

/** The variable that sets where a service binds. */
export function hostVariable(s: ServiceSpec): string {
  return `${s.envPrefix}_HOST`;
}

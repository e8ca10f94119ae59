/**
 * The variables a launched service reads, built from the catalog: where it
 * listens and what it connects to. The test stacks, the fault suite and the
 * bench start from these and add their own settings.
 */
import { hasOwnOpsPort, type ServiceName, SERVICES } from "./catalog.ts";
import { freePorts } from "./ports.ts";
import type { TestDatabase } from "./test-db.ts";

export type ServicePorts = Record<ServiceName, number>;

/** A free loopback port for each service's main listener. */
export async function freeServicePorts(): Promise<ServicePorts> {
  const ports = await freePorts(SERVICES.length);
  return Object.fromEntries(SERVICES.map((s, i) => [s.name, ports[i]])) as ServicePorts;
}

/**
 * <SVC>_HOST=127.0.0.1 and <SVC>_PORT for every service (0: any free port), and the edges'
 * operations listeners on `opsPorts` or, where none is given, any free port: a test reads
 * them back from the service rather than fixing them.
 */
export function listenEnv(
  ports: ServicePorts,
  opsPorts: Partial<ServicePorts> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of SERVICES) {
    env[`${s.envPrefix}_HOST`] = "127.0.0.1";
    env[s.port.variable] = String(ports[s.name]);
    if (hasOwnOpsPort(s)) env[s.ops.variable] = String(opsPorts[s.name] ?? 0);
  }
  return env;
}

/** NATS_URL and the schema of its own in the test PostgreSQL. */
export function backingEnv(
  servers: string[],
  db: TestDatabase,
  poolMax?: number,
): Record<string, string> {
  return {
    NATS_URL: servers.join(","),
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    ...(poolMax === undefined ? {} : { DATABASE_POOL_MAX: String(poolMax) }),
  };
}

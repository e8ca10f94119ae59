/**
 * For the infra tests: run a service's own config reader over an environment
 * taken from a deployment file, and report which variables it read, so a
 * variable that no reader knows (a typo, a leftover) is caught too.
 */
import type { Env, ListenConfig, ServiceBase } from "../internal/config/mod.ts";
import { readIngestConfig } from "../internal/ingest/config.ts";
import { readNotifyConfig } from "../internal/notify/config.ts";
import { readPersistConfig } from "../internal/persist/config.ts";
import { readRouteConfig } from "../internal/route/config.ts";
import type { ServiceName } from "./catalog.ts";

const readers: Record<ServiceName, (env: Env) => ServiceBase> = {
  ingest: readIngestConfig,
  route: readRouteConfig,
  persist: readPersistConfig,
  notify: readNotifyConfig,
};

export interface ConfigRead {
  /**
   * The parsed config; the reader throws (bad_config) when a value is wrong. `ops`: the edges'
   * operations listener.
   */
  config: ServiceBase & { database?: { url: string }; ops?: ListenConfig };
  /** Every variable the reader looked at, set or not. */
  read: Set<string>;
}

export function readServiceConfig(service: ServiceName, env: Env): ConfigRead {
  return readTracked(readers[service], env) as ConfigRead;
}

/** Any config reader (the migration's too) over `env`, with the variables it looked at. */
export function readTracked<C>(
  reader: (env: Env) => C,
  env: Env,
): { config: C; read: Set<string> } {
  const read = new Set<string>();
  const tracked = new Proxy(env, {
    get(target, name) {
      if (typeof name === "string") read.add(name);
      return target[name as string];
    },
  });
  return { config: reader(tracked), read };
}

/**
 * The variables that shape the streams and buckets: a service given one of
 * them must have the same value as the migration, or the migration made the
 * streams another way than that service is configured.
 */
export const MIGRATION_SETTINGS = [
  "STREAM_REPLICAS",
  "INGEST_MAX_AGE",
  "INGEST_MAX_BYTES",
  "INGEST_DUPLICATE_WINDOW",
  "EVENTS_MAX_AGE",
  "EVENTS_MAX_BYTES",
  "DLQ_MAX_AGE",
  "DLQ_MAX_BYTES",
  "ROUTE_DEDUPE_TTL",
  "NOTIFY_PRESENCE_TTL",
];

/** Users and the password variables infra/nats/users.conf reads from nats-server's environment. */
export function usersConf(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const m of text.matchAll(/user:\s*(\w+)\s*\n\s*password:\s*\$(\w+)/g)) users.set(m[1], m[2]);
  return users;
}

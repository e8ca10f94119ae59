/**
 * For the infra tests: run a service's own config reader over an environment
 * taken from a deployment file, and report which variables it read, so a
 * variable that no reader knows (a typo, a leftover) is caught too.
 */
import type { Env, ServiceBase } from "../../internal/config/mod.ts";
import { readIngestConfig } from "../../internal/ingest/config.ts";
import { readNotifyConfig } from "../../internal/notify/config.ts";
import { readPersistConfig } from "../../internal/persist/config.ts";
import { readRouteConfig } from "../../internal/route/config.ts";
import type { ServiceName } from "../e2e/stack.ts";

const readers: Record<ServiceName, (env: Env) => ServiceBase> = {
  ingest: readIngestConfig,
  route: readRouteConfig,
  persist: readPersistConfig,
  notify: readNotifyConfig,
};

export interface ConfigRead {
  /** The parsed config; the reader throws (bad_config) when a value is wrong. */
  config: ServiceBase & { database?: { url: string } };
  /** Every variable the reader looked at, set or not. */
  read: Set<string>;
}

export function readServiceConfig(service: ServiceName, env: Env): ConfigRead {
  const read = new Set<string>();
  const tracked = new Proxy(env, {
    get(target, name) {
      if (typeof name === "string") read.add(name);
      return target[name as string];
    },
  });
  return { config: readers[service](tracked), read };
}

/** Users and the password variables infra/nats/users.conf reads from nats-server's environment. */
export function usersConf(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const m of text.matchAll(/user:\s*(\w+)\s*\n\s*password:\s*\$(\w+)/g)) users.set(m[1], m[2]);
  return users;
}

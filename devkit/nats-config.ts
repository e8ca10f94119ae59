/**
 * Runs the shipped nats-server configs (infra/nats) in tests: copies a config
 * with its listed ports swapped for free ones and its store dir pointed at a
 * temporary one, next to the users.conf it includes, and gives nats-server
 * the passwords users.conf reads from its environment.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NATS_USERS, type NatsUser } from "./catalog.ts";

const infraNats = new URL("../infra/nats/", import.meta.url).pathname;

/** The variable users.conf reads a user's password from (also how a developer sets one). */
export function passwordVar(user: NatsUser): string {
  return `JETMESH_NATS_${user.toUpperCase()}_PASSWORD`;
}

/**
 * Fresh passwords for every user, set in this process's environment, which
 * nats-server processes started by the test helpers inherit.
 */
export function setNatsPasswords(): Record<NatsUser, string> {
  const out = {} as Record<NatsUser, string>;
  for (const u of NATS_USERS) {
    out[u] = `${u}-${crypto.randomUUID()}`;
    process.env[passwordVar(u)] = out[u];
  }
  return out;
}

/**
 * Copies `file` (and users.conf) into `dir` with ports replaced and store_dir set; returns the
 * copy's path.
 */
export function templateConfig(
  file: string,
  dir: string,
  store: string,
  ports: Map<number, number>,
): string {
  copyFileSync(join(infraNats, "users.conf"), join(dir, "users.conf"));
  const text = readFileSync(join(infraNats, file), "utf8")
    .replace(/\b(\d{4})\b/g, (m) => String(ports.get(Number(m)) ?? m))
    .replace(/store_dir:.*$/m, `store_dir: ${JSON.stringify(store)}`);
  const out = join(dir, file);
  writeFileSync(out, text);
  return out;
}

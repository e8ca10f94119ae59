/**
 * nats-server with the shipped users (infra/nats/users.conf) for the tests
 * that start a whole jetmesh: fresh passwords per server, the migration run as
 * admin, and each service's NATS_USER / NATS_PASSWORD.
 *
 *   const users = natsUsers();
 *   const nats = await startNatsServer(users.server);
 *   await migrateAsAdmin([nats.url], users, env);
 *   spawn a service with { ...env, ...users.serviceEnv("route") }
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../internal/log/mod.ts";
import { readMigrateConfig, runMigrate, type Step } from "../internal/migrate/mod.ts";
import { NATS_USERS, type NatsUser } from "./catalog.ts";
import { passwordVar } from "./nats-config.ts";

const usersConf = new URL("../infra/nats/users.conf", import.meta.url).pathname;

/** What `connect()` takes to log in: spread it into the options. */
export interface NatsCredentials {
  user: string;
  pass: string;
}

export interface NatsUsers {
  passwords: Record<NatsUser, string>;
  admin: NatsCredentials;
  /**
   * For startNatsServer / startNatsCluster: `-c` with a config that includes users.conf, and
   * the passwords.
   */
  server: { args: string[]; env: Record<string, string> };
  /** NATS_USER and NATS_PASSWORD of one user. */
  serviceEnv(user: NatsUser): Record<string, string>;
}

const dirs: string[] = [];
process.once("exit", () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Fresh passwords and a config file holding only `include users.conf`: the
 * helpers' command-line flags (ports, JetStream, cluster) go on top of it.
 * The passwords go to the server's own environment, not this process's, so
 * two servers in one test never share them.
 */
export function natsUsers(): NatsUsers {
  const dir = mkdtempSync(join(tmpdir(), "jm-users-"));
  dirs.push(dir);
  copyFileSync(usersConf, join(dir, "users.conf"));
  const conf = join(dir, "auth.conf");
  writeFileSync(conf, "include ./users.conf\n");
  const passwords = {} as Record<NatsUser, string>;
  const env: Record<string, string> = {};
  for (const u of NATS_USERS) {
    passwords[u] = `${u}-${crypto.randomUUID()}`;
    env[passwordVar(u)] = passwords[u];
  }
  return {
    passwords,
    admin: { user: "admin", pass: passwords.admin },
    server: { args: ["-c", conf], env },
    serviceEnv: (user) => ({ NATS_USER: user, NATS_PASSWORD: passwords[user] }),
  };
}

/**
 * Runs the migration (internal/migrate, what `make migrate` runs) as admin, with
 * the stack's environment, so streams and buckets get the settings the services
 * are configured with. Without `admin` it connects with what `env` says (none, or
 * NATS_TOKEN) — a server a test started without users.
 */
export async function migrateAsAdmin(
  servers: string[],
  env: Record<string, string | undefined>,
  admin?: NatsCredentials,
): Promise<Step[]> {
  const auth = admin
    ? { NATS_USER: admin.user, NATS_PASSWORD: admin.pass, NATS_TOKEN: undefined }
    : {};
  const cfg = readMigrateConfig({ ...env, ...auth, NATS_URL: servers.join(",") });
  const show = Boolean(process.env.JETMESH_TEST_LOG);
  const log = createLogger({ svc: "migrate" }, {
    level: show ? "debug" : "error",
    sink: (line) => show ? console.error(line) : undefined,
  });
  return await runMigrate(cfg, log);
}

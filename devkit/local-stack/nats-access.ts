/**
 * The NATS side of `make run-local` with least privilege: nats-server runs
 * with the users of infra/nats/users.conf, the migration creates the streams
 * and buckets as admin, every service gets its own user, and the nats CLI gets
 * a context `jetmesh-local` with the admin identity.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { randomBytes } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { findTool, toolMissingReason } from "../../infra/tools/tools.ts";
import { NATS_USERS, type NatsUser } from "../catalog.ts";
import { passwordVar } from "../nats-config.ts";
import { type Child, type LocalContext, spawnChild } from "./context.ts";
import { color, formatLogLine, say } from "./console.ts";

export type Passwords = Record<NatsUser, string>;

export const CONTEXT_NAME = "jetmesh-local";

/**
 * nats-server substitutes `$VAR` in users.conf and then parses the value: one
 * that starts with a digit is read as a number, a size ("3k") or a date
 * ("1234-…", refused with "All ISO8601 dates must be in full Zulu form"), so
 * the server does not start. A leading letter keeps it a string; a password
 * kept from an older run in another form is replaced.
 */
const SAFE_PASSWORD = /^[A-Za-z][A-Za-z0-9_-]*$/;

function freshPassword(user: NatsUser): string {
  return `${user}-${randomBytes(18).toString("base64url")}`;
}

/**
 * Passwords for the local server: JETMESH_NATS_<USER>_PASSWORD when set,
 * else the ones generated on a first run and kept in `file` (mode 0600), so a
 * restart, the nats CLI context and `make inspect` keep working.
 */
export function localPasswords(
  file: string,
  env: NodeJS.ProcessEnv,
): { passwords: Passwords; generated: boolean } {
  const kept = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as Partial<Passwords>)
    : {};
  const passwords = {} as Passwords;
  let generated = false;
  for (const u of NATS_USERS) {
    const fromEnv = env[passwordVar(u)];
    if (fromEnv) passwords[u] = fromEnv;
    else if (kept[u] && SAFE_PASSWORD.test(kept[u])) passwords[u] = kept[u];
    else {
      passwords[u] = freshPassword(u);
      generated = true;
    }
  }
  if (generated || !existsSync(file)) {
    writeFileSync(file, `${JSON.stringify(passwords, null, 2)}\n`, { mode: 0o600 });
  }
  // writeFileSync's mode applies only to a new file; an older one may have been wider.
  chmodSync(file, 0o600);
  return { passwords, generated };
}

/**
 * A config holding only `include ./users.conf` (a fresh copy of the shipped
 * one): ports, store dir and JetStream stay on run-local's command line.
 */
export function writeServerConfig(dir: string, root: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(root, "infra/nats/users.conf"), join(dir, "users.conf"));
  const conf = join(dir, "nats-server.conf");
  writeFileSync(
    conf,
    "# Written by make run-local: the users of infra/nats/users.conf; everything else is on the command line.\ninclude ./users.conf\n",
  );
  return conf;
}

/** nats-server's environment: the passwords users.conf reads. */
export function serverEnv(passwords: Passwords): Record<string, string> {
  return Object.fromEntries(NATS_USERS.map((u) => [passwordVar(u), passwords[u]]));
}

/** NATS_USER and NATS_PASSWORD of one user, for a service or a tool. */
export function userEnv(user: NatsUser, passwords: Passwords): Record<string, string> {
  return { NATS_USER: user, NATS_PASSWORD: passwords[user] };
}

/**
 * What `make inspect` and `make replay-dlq` read when NATS_URL is not set:
 * the local server's URL and the admin user (mode 0600, next to the passwords).
 */
export function writeAdminEnv(file: string, vars: Record<string, string>): void {
  const text = Object.entries(vars).map(([k, v]) => `${k}=${shellQuote(v)}`).join("\n");
  writeFileSync(
    file,
    `# Written by make run-local for make inspect / make replay-dlq (and a JWT to try the edges with).\n${text}\n`,
    { mode: 0o600 },
  );
  chmodSync(file, 0o600);
}

function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

export interface ContextResult {
  /** Lines to print: where the context is and how to use it, or why there is none. */
  lines: string[];
  ok: boolean;
}

/**
 * Saves the nats CLI context `jetmesh-local` (server URL, admin user) with the
 * real CLI. `configHome` (XDG_CONFIG_HOME) keeps a smoke run's context away
 * from the developer's ~/.config/nats.
 */
export function saveContext(url: string, passwords: Passwords, configHome?: string): ContextResult {
  const bin = findTool("nats");
  if (!bin) {
    return {
      ok: false,
      lines: [
        `nats CLI context: not saved (${
          toolMissingReason("nats").split("\n")[0]
        }; make tools builds it)`,
      ],
    };
  }
  const env = configHome ? { ...process.env, XDG_CONFIG_HOME: configHome } : process.env;
  const r = spawnSync(
    bin,
    [
      "context",
      "save",
      CONTEXT_NAME,
      "--server",
      url,
      "--user",
      "admin",
      "--password",
      passwords.admin,
      "--description",
      "jetmesh make run-local (admin)",
    ],
    { env, encoding: "utf8", timeout: 15_000 },
  );
  if (r.status !== 0) {
    return {
      ok: false,
      lines: [`nats CLI context: not saved (${(r.stderr || r.stdout || String(r.error)).trim()})`],
    };
  }
  // The context holds the admin password: readable by its owner only.
  const file = join(
    configHome ?? process.env.XDG_CONFIG_HOME ?? join(homedir(), ".config"),
    "nats",
    "context",
    `${CONTEXT_NAME}.json`,
  );
  if (existsSync(file)) chmodSync(file, 0o600);
  const cli = bin.startsWith(process.cwd() + "/") ? bin.slice(process.cwd().length + 1) : bin;
  return {
    ok: true,
    lines: [
      `nats CLI context ${CONTEXT_NAME} saved (admin user, ${file}):`,
      `  ${cli} --context ${CONTEXT_NAME} stream ls`,
      `  ${cli} --context ${CONTEXT_NAME} consumer report EVENTS`,
      `  ${cli} --context ${CONTEXT_NAME} kv ls`,
    ],
  };
}

/**
 * Runs the CLI with the context (the smoke run's proof that it works); returns its output, or
 * throws.
 */
export function withContext(args: string[], configHome?: string): string {
  const bin = findTool("nats");
  if (!bin) throw new Error(toolMissingReason("nats"));
  const env = configHome ? { ...process.env, XDG_CONFIG_HOME: configHome } : process.env;
  const r = spawnSync(bin, ["--context", CONTEXT_NAME, ...args], {
    env,
    encoding: "utf8",
    timeout: 15_000,
  });
  if (r.status !== 0) {
    throw new Error(
      `nats --context ${CONTEXT_NAME} ${args.join(" ")}: ${(r.stderr || r.stdout).trim()}`,
    );
  }
  return r.stdout;
}

/** cmd/migrate as a child of run-local, as admin when the server is run-local's own. */
export function migrationChild(
  ctx: LocalContext,
  natsUrl: string,
  passwords: Passwords | undefined,
): Child {
  return spawnChild(ctx, {
    name: "migrate",
    command: process.execPath,
    args: ["--import", "tsx", join(ctx.root, "cmd/migrate/main.ts")],
    env: { ...ctx.env, NATS_URL: natsUrl, ...(passwords ? userEnv("admin", passwords) : {}) },
    paint: color.gray,
    filter: (line) => formatLogLine(line, ctx.rawLogs),
  });
}

/**
 * The admin's ways in, once the stack runs: the nats CLI context and, outside
 * --smoke, .data/run-local.env for the make targets. In --smoke the context
 * goes to a temporary config home and a `stream ls` through it proves it works.
 * Returns the lines to print.
 */
export function adminAccess(o: {
  natsUrl: string;
  passwords: Passwords;
  dataDir: string;
  smoke: boolean;
  shownDir: (d: string) => string;
  databaseUrl?: string;
  /** A JWT for trying the edges (JETMESH_TOKEN). */
  token?: string;
}): string[] {
  const home = o.smoke ? join(o.dataDir, "config") : undefined;
  const ctx = saveContext(o.natsUrl, o.passwords, home);
  if (o.smoke && ctx.ok) {
    const names = withContext(["stream", "ls", "--names"], home).split(/\s+/).filter(Boolean)
      .sort();
    say(`nats --context ${CONTEXT_NAME} stream ls: ${names.join(" ")}`);
  }
  if (!o.smoke) {
    const file = join(o.dataDir, "run-local.env");
    writeAdminEnv(file, {
      NATS_URL: o.natsUrl,
      ...userEnv("admin", o.passwords),
      ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : {}),
      ...(o.token ? { JETMESH_TOKEN: o.token } : {}),
    });
    ctx.lines.push(
      `make inspect / make replay-dlq / make migrate read ${
        o.shownDir(file)
      } (admin user) when NATS_URL is not set`,
    );
  }
  return ctx.lines;
}

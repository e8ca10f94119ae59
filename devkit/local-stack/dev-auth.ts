/**
 * JWT auth of `make run-local`: the HS256 secret ingest and notify verify
 * with, the demo's namespaces, notify's development token endpoint, and a
 * ready-made token to try the README's commands with.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { exampleOf, exampleOrigins } from "./example-page.ts";
import { MIN_SECRET_BYTES } from "../../internal/auth/mod.ts";
import { signDevToken } from "../../internal/notify/dev-token.ts";
import { color, say } from "./console.ts";
import type { LocalContext } from "./context.ts";

/** Lifetime of the token run-local prints: a working day. */
const PRINTED_TOKEN_TTL_SEC = 12 * 3600;

/**
 * JETMESH_JWT_SECRET when set; else the one generated on a first run and kept
 * in `file` (mode 0600), so a restart keeps every issued token valid.
 */
export function localJwtSecret(
  file: string,
  env: NodeJS.ProcessEnv,
): { secret: string; generated: boolean; fromEnv: boolean } {
  if (env.JETMESH_JWT_SECRET) {
    return { secret: env.JETMESH_JWT_SECRET, generated: false, fromEnv: true };
  }
  const kept = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
  if (new TextEncoder().encode(kept).length >= MIN_SECRET_BYTES) {
    chmodSync(file, 0o600);
    return { secret: kept, generated: false, fromEnv: false };
  }
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { secret, generated: true, fromEnv: false };
}

/**
 * Where the services listen and how the page reaches ingest: what the edges' settings depend on.
 */
export interface EdgePorts {
  ingest: number;
  /** Every notify replica's: each serves the chat page. */
  notify: number[];
}

/**
 * Variables for ingest and notify: JWT on with `secret`, the demo's
 * namespaces, and the chat page served by any notify replica allowed to publish to ingest.
 * Whatever the developer set stays.
 */
export function edgeEnv(
  root: string,
  secret: string,
  ports: EdgePorts,
  env: NodeJS.ProcessEnv,
): Record<"ingest" | "notify", Record<string, string>> {
  const shared = {
    JETMESH_AUTH: "jwt",
    JETMESH_JWT_SECRET: secret,
    JETMESH_NAMESPACES: env.JETMESH_NAMESPACES || join(root, "infra/local/namespaces.yaml"),
  };
  const page = ports.notify.flatMap((p) => [`http://localhost:${p}`, `http://127.0.0.1:${p}`]);
  // With an example's page (example-page.ts) notify also takes its origin; listing origins
  // ends the same-host default, so the chat page's are listed too.
  const example = exampleOf(env);
  const notifyOrigins: Record<string, string> = example && !env.JETMESH_ALLOWED_ORIGINS
    ? { JETMESH_ALLOWED_ORIGINS: [...page, ...exampleOrigins(example.port)].join(",") }
    : {};
  return {
    ingest: { ...shared, JETMESH_ALLOWED_ORIGINS: env.JETMESH_ALLOWED_ORIGINS || page.join(",") },
    notify: {
      ...shared,
      ...notifyOrigins,
      JETMESH_DEV_TOKENS: "1",
      NOTIFY_DEMO_INGEST_URL: env.NOTIFY_DEMO_INGEST_URL || `ws://localhost:${ports.ingest}/v1/ws`,
    },
  };
}

/** A token for `name` as notify's /dev/token would give it, valid for a working day. */
export async function printedToken(secret: string, name: string): Promise<string> {
  const { token } = await signDevToken({
    secret: new TextEncoder().encode(secret),
    ttlSec: PRINTED_TOKEN_TTL_SEC,
  }, name);
  return token;
}

export type EdgeEnv = ReturnType<typeof edgeEnv>;

/** One service's share of `envs`: the edges' settings, nothing for the workers. */
export function authEnvOf(envs: EdgeEnv, name: string): Record<string, string> {
  return name === "ingest" || name === "notify" ? envs[name] : {};
}

/**
 * The edges' JWT settings, unless the developer configured auth otherwise
 * (JETMESH_JWT_PUBLIC_KEY_FILE, JETMESH_JWT_JWKS_URL, JETMESH_AUTH=none).
 */
export function edgeAuth(
  ctx: LocalContext,
  ports: EdgePorts,
): { secret: string; env: EdgeEnv } | undefined {
  const { env } = ctx;
  if (env.JETMESH_JWT_PUBLIC_KEY_FILE || env.JETMESH_JWT_JWKS_URL || env.JETMESH_AUTH === "none") {
    return undefined;
  }
  const file = join(ctx.dataDir, "jwt-secret");
  const { secret, generated, fromEnv } = localJwtSecret(file, env);
  if (generated) {
    say(
      `JWT: HS256 secret generated into ${
        ctx.shownDir(file)
      } (mode 0600); JETMESH_JWT_SECRET overrides`,
    );
  } else {
    say(`JWT: HS256 secret from ${fromEnv ? "JETMESH_JWT_SECRET" : ctx.shownDir(file)}`, color.dim);
  }
  return { secret, env: edgeEnv(ctx.root, secret, ports, env) };
}

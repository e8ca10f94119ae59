/**
 * Embedded PostgreSQL for `make run-local` when no DATABASE_URL is given:
 * PGlite on a TCP port, data kept in PGLITE_DIR across restarts.
 */
import { mkdir } from "node:fs/promises";
import { type Env, EnvReader } from "../../internal/config/mod.ts";
import { createLogger, isLevel } from "../../internal/log/mod.ts";
import { startEmbeddedPostgres } from "../../internal/store/mod.ts";

const env = new EnvReader(process.env as Env);
const dataDir = env.string("PGLITE_DIR", ".data/pglite");
const host = env.string("PGLITE_HOST", "127.0.0.1");
const port = env.int("PGLITE_PORT", 5433, 0, 65535);
// persist and notify hold one connection each; the rest is room for a smoke
// check or psql, and for a restarted service reconnecting before its old
// connection is seen closed. Connections take turns, so more cost nothing.
const maxConnections = env.int("PGLITE_MAX_CONNECTIONS", 16, 1, 100);
const level = env.string("LOG_LEVEL", "info");
const log = createLogger({ service: "pglite" }, { level: isLevel(level) ? level : "info" });

try {
  env.done();
  // PGlite creates only the last path segment.
  await mkdir(dataDir, { recursive: true });
  const pg = await startEmbeddedPostgres({ dataDir, host, port, maxConnections, log });
  let stopping = false;
  const stop = async (signal: string) => {
    // A second signal means the clean stop hangs: give up on it.
    if (stopping) process.exit(1);
    stopping = true;
    log.info("stopping", { signal });
    await pg.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
} catch (err) {
  log.error("embedded postgres failed to start", { err });
  process.exit(1);
}

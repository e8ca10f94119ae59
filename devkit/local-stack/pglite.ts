/**
 * run-local's PostgreSQL: DATABASE_URL when set, else embedded PGlite
 * (cmd/pglite/main.ts) with its data in <dataDir>/pglite or PGLITE_DIR.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { redact } from "../test-db.ts";
import { pickPort } from "../ports.ts";
import { color, formatLogLine, say } from "./console.ts";
import { type Child, type LocalContext, spawnChild, StartFailure } from "./context.ts";
import { stopLeftover } from "./leftovers.ts";

/** Beside a system PostgreSQL on 5432. */
const PGLITE_PORT = 5433;

export interface LocalDatabase {
  url: string;
  /** The PGlite run-local started; undefined with DATABASE_URL. */
  child?: Child;
}

export async function startDatabase(ctx: LocalContext): Promise<LocalDatabase> {
  const { env, smoke, dataDir } = ctx;
  if (env.DATABASE_URL) {
    say(`using DATABASE_URL=${redact(env.DATABASE_URL)}`);
    return { url: env.DATABASE_URL };
  }
  await stopLeftover(ctx.pidDir, "pglite", "cmd/pglite/main.ts", ctx.root);
  const main = join(ctx.root, "cmd/pglite/main.ts");
  if (!existsSync(main)) {
    throw new StartFailure(
      "cmd/pglite/main.ts is missing: set DATABASE_URL to a PostgreSQL server",
    );
  }
  const wanted = smoke ? 0 : Number(env.PGLITE_PORT || PGLITE_PORT);
  const host = env.PGLITE_HOST || "127.0.0.1";
  const { port, moved } = await pickPort(wanted, host);
  if (moved && !smoke) {
    say(`port ${wanted} is taken: embedded PostgreSQL uses ${port} instead`, color.yellow);
  }
  const pgDir = smoke ? join(dataDir, "pglite") : env.PGLITE_DIR || join(dataDir, "pglite");
  say(
    `starting embedded PostgreSQL (PGlite, data in ${
      ctx.shownDir(pgDir)
    }; a first start takes several seconds)`,
  );
  const child = ctx.watch(
    spawnChild(ctx, {
      name: "pglite",
      command: process.execPath,
      args: ["--import", "tsx", main],
      env: {
        ...env,
        PGLITE_DIR: pgDir,
        PGLITE_PORT: String(port),
        PGLITE_HOST: host,
      },
      paint: color.gray,
      filter: (line) => formatLogLine(line, ctx.rawLogs),
    }),
  );
  try {
    const url = await child.waitForLine(urlOfReadyLine, 120_000);
    say(`embedded PostgreSQL ${url}`);
    return { url, child };
  } catch (err) {
    throw new StartFailure(String(err instanceof Error ? err.message : err), child.tail);
  }
}

/** cmd/pglite prints one JSON line with the URL once it accepts connections. */
function urlOfReadyLine(line: string): string | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const o = JSON.parse(line) as { url?: unknown };
    return typeof o.url === "string" ? o.url : undefined;
  } catch {
    return undefined;
  }
}

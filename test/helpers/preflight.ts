/**
 * Checks what the test suite needs before tap starts, with one clear message
 * per missing piece: `node --import tsx test/helpers/preflight.ts [nats-server] [nats] [jaeger]
 * [postgres]`.
 * Exits 1 when something is missing.
 */
import postgres from "postgres";
import { DEFAULT_TEST_DATABASE_URL, redact } from "../../devkit/test-db.ts";
import { toolMissingReason } from "../../infra/tools/tools.ts";

const wanted = new Set(
  process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["nats-server", "postgres"],
);
let ok = true;

for (const tool of ["nats-server", "nats", "jaeger"] as const) {
  const why = wanted.has(tool) ? toolMissingReason(tool) : "";
  if (why) {
    console.error(why);
    ok = false;
  }
}

if (wanted.has("postgres")) {
  const url = process.env.DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (err) {
    console.error(
      `PostgreSQL is not reachable at ${redact(url)}: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
    console.error(
      "  start it (Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start),",
    );
    console.error(
      "  create the database (createdb -h 127.0.0.1 -U postgres test), or set DATABASE_URL.",
    );
    ok = false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

process.exit(ok ? 0 : 1);

/**
 * A throw-away PostgreSQL schema for one test.
 *
 *   const db = await testDatabase();
 *   // run the app's migrations with DATABASE_URL=db.url DATABASE_SCHEMA=db.schema
 *   t.teardown(db.drop);
 *
 * The schema name is unique (jm_<pid>_<random>) and is NOT created here, and
 * neither are its tables: the app's migrations do that. drop() removes the
 * schema and everything in it.
 */
import postgres from "postgres";

export const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  /** The server URL (DATABASE_URL or the default). */
  url: string;
  /** A fresh schema name, unique to this call. */
  schema: string;
  /** drop schema if exists <schema> cascade. Safe to call more than once. */
  drop(): Promise<void>;
}

export class DatabaseUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    super(
      `PostgreSQL is not reachable at ${redact(url)} (${
        cause instanceof Error ? cause.message : String(cause)
      }); ` +
        "start it or set DATABASE_URL",
    );
    this.name = "DatabaseUnavailableError";
  }
}

/** Hides a password in a URL for messages. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}

export function uniqueSchemaName(): string {
  const rand = Math.random().toString(36).slice(2, 10).padEnd(8, "0");
  return `jm_${process.pid}_${rand}`;
}

function connectOnce(url: string) {
  return postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5, idle_timeout: 1 });
}

export async function testDatabase(): Promise<TestDatabase> {
  const url = process.env.DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
  const schema = uniqueSchemaName();
  // Fail early with a clear message when the server is down.
  const sql = connectOnce(url);
  try {
    await sql`select 1`;
  } catch (err) {
    throw new DatabaseUnavailableError(url, err);
  } finally {
    await sql.end({ timeout: 5 });
  }
  return {
    url,
    schema,
    async drop() {
      const s = connectOnce(url);
      try {
        await s`drop schema if exists ${s(schema)} cascade`;
      } finally {
        await s.end({ timeout: 5 });
      }
    },
  };
}

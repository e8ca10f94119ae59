import type postgres from "postgres";

type Tx = postgres.TransactionSql;

/**
 * Schema changes in order; a migration's version is its index + 1. Append
 * only: a database records the versions it has applied, so editing or
 * reordering an applied entry would never reach it.
 */
export const migrations: ReadonlyArray<(tx: Tx, schema: string) => Promise<unknown>> = [
  async (tx, schema) => {
    await tx`
      create table ${tx(`${schema}.events`)} (
        event_id text primary key,
        channel text not null,
        epoch bigint not null,
        seq bigint not null,
        received_at timestamptz not null,
        publisher text not null,
        data bytea not null,
        stored_at timestamptz not null default now()
      )`;
    await tx`create index events_channel_cursor on ${tx(`${schema}.events`)} (channel, epoch, seq)`;
  },
  // Replay of a channel pattern walks the table in cursor order and filters channels.
  async (tx, schema) => {
    await tx`create index events_cursor on ${tx(`${schema}.events`)} (epoch, seq)`;
  },
];

/**
 * Applies what is missing. Every transaction first takes one advisory lock per
 * schema, so services starting together run the migrations once, one after the
 * other, instead of racing on `create ... if not exists` (which can still fail
 * with a unique violation when two sessions run it at the same moment).
 */
export async function migrate(sql: postgres.Sql, schema: string): Promise<number[]> {
  const lock = (tx: Tx) =>
    tx`select pg_advisory_xact_lock(hashtext(${`jetmesh.migrate.${schema}`}))`;
  const table = sql(`${schema}.schema_migrations`);
  await sql.begin(async (tx) => {
    await lock(tx);
    await tx`create schema if not exists ${tx(schema)}`;
    await tx`create table if not exists ${table} (version int primary key, applied_at timestamptz not null default now())`;
  });
  const applied: number[] = [];
  for (const [i, up] of migrations.entries()) {
    const version = i + 1;
    await sql.begin(async (tx) => {
      await lock(tx);
      const done = await tx`select 1 from ${table} where version = ${version}`;
      if (done.length > 0) return;
      await up(tx, schema);
      await tx`insert into ${table} (version) values (${version})`;
      applied.push(version);
    });
  }
  return applied;
}

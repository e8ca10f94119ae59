import { connect as netConnect, type Socket } from "node:net";
import postgres from "postgres";
import { channelPatternRegex, isWildcard } from "../../subjects/mod.ts";
import { packValue, unpackValue } from "../codec/mod.ts";
import type { DatabaseConfig } from "../config/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { migrate } from "./migrations.ts";
import type { EventRow, Store } from "./types.ts";

const columns = [
  "event_id",
  "channel",
  "epoch",
  "seq",
  "received_at",
  "publisher",
  "data",
] as const;

interface DbEvent {
  event_id: string;
  channel: string;
  epoch: string;
  seq: string;
  received_at: Date;
  publisher: string;
  data: Uint8Array;
}

/**
 * Opens a pool; nothing connects until the first query. Table names are
 * schema-qualified rather than set through `search_path`, because the
 * embedded server shares one session between all its clients.
 */
export function openStore(cfg: DatabaseConfig, log: Logger): Store {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(cfg.schema)) {
    // A dot or quote would change what the qualified names below refer to.
    throw new JetmeshError(
      "bad_config",
      `database schema ${JSON.stringify(cfg.schema)} is not a lower-case SQL identifier`,
    );
  }
  // `socket` is documented by postgres.js but missing from its typings.
  const options: postgres.Options<Record<string, never>> & { socket: typeof noDelaySocket } = {
    max: cfg.poolMax,
    socket: noDelaySocket,
    onnotice: (n) =>
      log.debug("postgres notice", { severity: n.severity, code: n.code, message: n.message }),
  };
  const sql = postgres(cfg.url, options);
  const events = sql(`${cfg.schema}.events`);

  return {
    async migrate() {
      const applied = await migrate(sql, cfg.schema);
      if (applied.length > 0) log.info("database migrated", { schema: cfg.schema, applied });
    },

    async insertEvents(rows) {
      if (rows.length === 0) return 0;
      // Each row inserted locks its key until the commit: two writers whose batches overlap (two
      // persist replicas after a redelivery) would deadlock taking those locks in opposite
      // orders. In one order, the later writer waits for the first and then skips its rows.
      const values = [...rows].sort(byEventId).map((r) => ({
        event_id: r.eventId,
        channel: r.channel,
        epoch: r.cursor.epoch,
        seq: r.cursor.seq,
        received_at: new Date(r.receivedAt),
        publisher: r.publisher,
        data: packValue(r.data),
      }));
      // Dedupe (docs/dedupe.md): the event id is the primary key; a repeat is skipped.
      const result = await sql`
        insert into ${events} ${sql(values, ...columns)}
        on conflict (event_id) do nothing`.catch(unavailable);
      return result.count;
    },

    async history(channel, after, limit) {
      const rows = await sql<DbEvent[]>`
        select event_id, channel, epoch, seq, received_at, publisher, data from ${events}
        where channel = ${channel} ${
        after ? sql`and (epoch, seq) > (${after.epoch}, ${after.seq})` : sql``
      }
        order by epoch, seq
        limit ${limit}`.catch(unavailable);
      return rows.map(toEventRow);
    },

    async replay(pattern, after, before, limit) {
      // A concrete channel uses the (channel, epoch, seq) index; a pattern walks (epoch, seq) and
      // filters with a regex passed as a parameter, never spliced into the SQL.
      const match = isWildcard(pattern)
        ? sql`channel ~ ${channelPatternRegex(pattern)}`
        : sql`channel = ${pattern}`;
      const rows = await sql<DbEvent[]>`
        select event_id, channel, epoch, seq, received_at, publisher, data from ${events}
        where ${match}
          and (epoch, seq) > (${after.epoch}, ${after.seq})
          and (epoch, seq) < (${before.epoch}, ${before.seq})
        order by epoch, seq
        limit ${limit}`.catch(unavailable);
      return rows.map(toEventRow);
    },

    async ping() {
      await sql`select 1`.catch(unavailable);
    },

    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

/**
 * postgres.js leaves Nagle's algorithm on, and it writes a large statement in
 * several pieces: every piece after the first then waits for the server's
 * delayed ACK, about 40 ms on Linux, once per batch insert. Its `socket`
 * option takes our socket instead. The socket is returned while it still
 * connects: what postgres.js writes waits in it until then, and a refused
 * connection reaches postgres.js as the same 'error' event as with its own.
 */
function noDelaySocket(o: { host: string[]; port: number[]; path?: string | false }): Socket {
  const s = o.path ? netConnect(o.path) : netConnect(o.port[0], o.host[0]);
  s.setNoDelay(true);
  return s;
}

/** By code unit, the same in every process, unlike localeCompare. */
function byEventId(a: EventRow, b: EventRow): number {
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
}

function toEventRow(r: DbEvent): EventRow {
  return {
    eventId: r.event_id,
    channel: r.channel,
    // postgres.js returns bigint as text to stay lossless; cursors stay below 2^53.
    cursor: { epoch: Number(r.epoch), seq: Number(r.seq) },
    receivedAt: r.received_at.getTime(),
    publisher: r.publisher,
    data: unpackValue(r.data),
  };
}

/**
 * SQLSTATE classes meaning "the database is not there right now" rather than
 * "this statement is wrong": connection exception, insufficient resources,
 * operator intervention (shutdown, recovery).
 */
const unavailableStates = /^(08|53|57P)/;

/**
 * SQLSTATE classes meaning "this data can never be stored as it is": data exception, integrity
 * constraint violation.
 */
const rejectedStates = /^(22|23)/;

/**
 * Rethrows with a code callers can act on (the cause kept): a lost or refused
 * database is `unavailable` (clients see 503, writers retry), data the schema
 * refuses is `rejected` (writers park it instead of retrying forever).
 */
function unavailable(err: unknown): never {
  if (isUnavailable(err)) {
    throw new JetmeshError("unavailable", `database unavailable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (err instanceof postgres.PostgresError && rejectedStates.test(err.code)) {
    throw new JetmeshError("rejected", `database rejected the data: ${err.message}`, {
      cause: err,
    });
  }
  throw err;
}

/**
 * Socket errors and postgres.js's own connection errors; its other codes (such as
 * MAX_PARAMETERS_EXCEEDED) are bugs.
 */
const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

function isUnavailable(err: unknown): boolean {
  if (err instanceof postgres.PostgresError) return unavailableStates.test(err.code);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && connectionCodes.has(code);
}

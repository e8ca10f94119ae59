/**
 * A separate process on the embedded server for wire.test.ts:
 * `node --import tsx wire-client.ts URL SCHEMA writer|reader ROUNDS BATCH`.
 * It connects, prints `ready`, waits for a line on stdin so both processes
 * start together, migrates, works, and prints one JSON line with what it saw.
 */
import { once } from "node:events";
import postgres from "postgres";
import { createLogger } from "../../internal/log/mod.ts";
import { openStore } from "../../internal/store/mod.ts";
import { eventRow } from "./rows.ts";

const [url, schema, role, roundsArg, batchArg] = process.argv.slice(2);
const rounds = Number(roundsArg);
const batch = Number(batchArg);
const store = openStore({ url, schema, poolMax: 1 }, createLogger({ role }, { sink: () => {} }));
// The Store has no transactions of its own to offer.
const sql = postgres(url, { max: 1, onnotice: () => {} });
const errors: string[] = [];
const note = (err: unknown) => errors.push(err instanceof Error ? err.message : String(err));

await store.ping();
if (role === "reader") await sql`select 1`;
console.log("ready");
await once(process.stdin, "data");
const started = Date.now();
await store.migrate().catch(note);

let inserted = 0;
let committed = 0;
if (role === "writer") {
  for (let i = 0; i < rounds; i++) {
    const rows = Array.from({ length: batch }, (_, j) => eventRow("w", 1, i * batch + j + 1));
    inserted += await store.insertEvents(rows).catch((err) => (note(err), 0));
  }
} else {
  await sql`create table if not exists ${sql(`${schema}.tx_log`)} (n int primary key)`.catch(note);
  let seen = 0;
  for (let i = 0; i < rounds; i++) {
    try {
      const page = await store.history("w", undefined, 100_000);
      if (page.some((r, k) => r.cursor.seq !== k + 1)) {
        errors.push(`history out of order or with gaps at round ${i}`);
      }
      // One statement inserts a whole batch, so a reader never sees part of one.
      if (page.length < seen || page.length % batch !== 0) {
        errors.push(`history saw ${page.length} rows after ${seen}`);
      }
      seen = page.length;
    } catch (err) {
      note(err);
    }
    const rollBack = i % 4 === 3;
    try {
      await sql.begin(async (tx) => {
        await tx`insert into ${tx(`${schema}.tx_log`)} values (${i})`;
        const [{ n }] = await tx<{ n: number }[]>`select count(*)::int as n from ${
          tx(`${schema}.tx_log`)
        }`;
        if (n !== committed + 1) {
          errors.push(`transaction ${i} counted ${n}, expected ${committed + 1}`);
        }
        if (rollBack) throw new Error("roll back");
      });
      committed++;
    } catch (err) {
      if (!rollBack || (err as Error).message !== "roll back") note(err);
    }
  }
}

console.log(JSON.stringify({ role, errors, inserted, committed, started, finished: Date.now() }));
await Promise.all([store.close(), sql.end({ timeout: 5 })]);

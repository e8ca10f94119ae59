import t from "tap";
import postgres from "postgres";
import { JetmeshError } from "../../internal/errors/mod.ts";
import { createLogger } from "../../internal/log/mod.ts";
import { type EventRow, openStore, type Store } from "../../internal/store/mod.ts";
import { testDatabase } from "../../devkit/test-db.ts";
import { eventRow } from "./rows.ts";

const log = createLogger({ test: "store" }, { sink: () => {} });

/** A store on a fresh schema of DATABASE_URL, closed and dropped when the test ends. */
async function freshStore(
  t: { teardown(fn: () => unknown): void },
  poolMax = 4,
): Promise<{ store: Store; schema: string; url: string }> {
  const db = await testDatabase();
  t.teardown(db.drop);
  const store = openStore({ url: db.url, schema: db.schema, poolMax }, log);
  t.teardown(() => store.close());
  return { store, schema: db.schema, url: db.url };
}

t.test("migrate is idempotent and safe when two services start together", async (t) => {
  const { store, schema, url } = await freshStore(t);
  const other = openStore({ url, schema, poolMax: 2 }, log);
  t.teardown(() => other.close());
  await Promise.all([store.migrate(), other.migrate(), store.migrate()]);
  await store.migrate();

  const sql = postgres(url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 5 }));
  const versions = await sql`select version from ${
    sql(`${schema}.schema_migrations`)
  } order by version`;
  t.same(versions.map((r) => r.version), [1, 2], "each migration recorded once");
  const indexes =
    await sql`select indexname from pg_indexes where schemaname = ${schema} and tablename = 'events'`;
  t.ok(indexes.some((r) => r.indexname === "events_channel_cursor"), "channel cursor index exists");
  t.ok(indexes.some((r) => r.indexname === "events_cursor"), "cursor index exists");
});

t.test("insertEvents counts only new rows", async (t) => {
  const { store } = await freshStore(t);
  await store.migrate();
  t.equal(await store.insertEvents([]), 0, "empty batch");
  const first = Array.from({ length: 1000 }, (_, i) => eventRow("c", 1, i + 1));
  t.equal(await store.insertEvents(first), 1000);
  const overlapping = Array.from({ length: 1000 }, (_, i) => eventRow("c", 1, i + 501));
  t.equal(await store.insertEvents(overlapping), 500, "the 500 already stored are skipped");
  t.equal(await store.insertEvents(first.slice(0, 10)), 0, "a replayed batch inserts nothing");
  t.equal((await store.history("c", undefined, 5000)).length, 1500);
});

t.test("two writers storing overlapping batches in opposite orders at once: no deadlock, each row once", async (t) => {
  // Two persist replicas on one durable see overlapping batches after a redelivery, and an event
  // published twice can sit at other places in each.
  const { store, schema, url } = await freshStore(t);
  await store.migrate();
  const other = openStore({ url, schema, poolMax: 4 }, log);
  t.teardown(() => other.close());
  let stored = 0;
  for (let round = 0; round < 5; round++) {
    const rows = Array.from({ length: 2000 }, (_, i) => eventRow("d", 1, round * 2000 + i + 1));
    const counts = await Promise.all([
      store.insertEvents(rows),
      other.insertEvents([...rows].reverse()),
    ]);
    t.equal(
      counts[0] + counts[1],
      rows.length,
      `round ${round}: every row inserted by one of them`,
    );
    stored += rows.length;
  }
  t.equal((await store.history("d", undefined, 20_000)).length, stored, "and stored once");
});

t.test("history: cursor order across epochs, paging, one channel only", async (t) => {
  const { store } = await freshStore(t);
  await store.migrate();
  // Inserted out of order; epoch 2000 is a recreated stream whose seq restarted.
  const rows = [
    eventRow("a", 2000, 2),
    eventRow("a", 1000, 10),
    eventRow("b", 1000, 3),
    eventRow("a", 2000, 1),
    eventRow("a", 1000, 9),
    eventRow("a", 1000, 11),
  ];
  t.equal(await store.insertEvents(rows), 6);
  const cursors = (page: EventRow[]) => page.map((r) => `${r.cursor.epoch}-${r.cursor.seq}`);

  const all = await store.history("a", undefined, 100);
  t.same(cursors(all), ["1000-9", "1000-10", "1000-11", "2000-1", "2000-2"]);
  t.equal(typeof all[0].cursor.epoch, "number", "bigint columns come back as numbers");

  const page1 = await store.history("a", undefined, 2);
  t.same(cursors(page1), ["1000-9", "1000-10"]);
  const page2 = await store.history("a", page1[1].cursor, 2);
  t.same(cursors(page2), ["1000-11", "2000-1"], "paging crosses the epoch boundary");
  const page3 = await store.history("a", page2[1].cursor, 2);
  t.same(cursors(page3), ["2000-2"]);
  t.same(await store.history("a", page3[0].cursor, 2), [], "nothing after the last");
  t.same(cursors(await store.history("a", { epoch: 1000, seq: 1_000_000 }, 10)), [
    "2000-1",
    "2000-2",
  ]);
  t.same(cursors(await store.history("b", undefined, 10)), ["1000-3"]);
  t.same(await store.history("none", undefined, 10), []);
});

t.test("replay: a channel or a pattern, between two cursors, across epochs", async (t) => {
  const { store } = await freshStore(t);
  await store.migrate();
  const rows = [
    eventRow("chat.a", 1000, 1),
    eventRow("chat.b", 1000, 2),
    eventRow("chat.a.x", 1000, 3),
    eventRow("iot.s.t", 1000, 4),
    eventRow("chat_a", 1000, 5),
    eventRow("chat.a", 2000, 1),
    eventRow("chat.b", 2000, 2),
    eventRow("chat.a", 2000, 3),
  ];
  await store.insertEvents(rows);
  const ids = (page: EventRow[]) =>
    page.map((r) => `${r.channel}@${r.cursor.epoch}-${r.cursor.seq}`);
  const zero = { epoch: 0, seq: 0 };
  const end = { epoch: 9999, seq: 0 };
  t.same(ids(await store.replay("chat.*", zero, end, 100)), [
    "chat.a@1000-1",
    "chat.b@1000-2",
    "chat.a@2000-1",
    "chat.b@2000-2",
    "chat.a@2000-3",
  ]);
  t.same(
    ids(await store.replay("chat.>", zero, end, 100)).length,
    6,
    "> takes deeper channels too",
  );
  t.same(ids(await store.replay("*.*.*", zero, end, 100)), ["chat.a.x@1000-3", "iot.s.t@1000-4"]);
  t.same(ids(await store.replay("chat.a", { epoch: 1000, seq: 1 }, { epoch: 2000, seq: 3 }, 100)), [
    "chat.a@2000-1",
  ], "both bounds exclusive");
  t.same(
    ids(await store.replay("chat.*", zero, end, 2)),
    ["chat.a@1000-1", "chat.b@1000-2"],
    "limit",
  );
  t.same(await store.replay("chat.a", end, zero, 10), [], "empty range");
});

t.test("event fields and data survive the round trip", async (t) => {
  const { store } = await freshStore(t);
  await store.migrate();
  const nested = {
    text: "héllo ✓",
    n: -1.5,
    big: 2 ** 53 - 1,
    flags: [true, false, null],
    deep: { list: [1, "two", { three: 3 }], empty: {} },
  };
  const bytes = new Uint8Array([0, 1, 2, 254, 255]);
  const receivedAt = Date.UTC(2026, 10, 26, 14, 7, 22, 123);
  const epoch = 1_764_165_000_000;
  await store.insertEvents([
    { ...eventRow("rt", epoch, 1), data: nested, receivedAt, publisher: "user:42" },
    { ...eventRow("rt", epoch, 2), data: { payload: bytes } },
    { ...eventRow("rt", epoch, 3), data: "just a string" },
  ]);
  const [a, b, c] = await store.history("rt", undefined, 10);
  t.same(a, {
    eventId: `rt-${epoch}-1`,
    channel: "rt",
    cursor: { epoch, seq: 1 },
    receivedAt,
    publisher: "user:42",
    data: nested,
  });
  const payload = (b.data as { payload: Uint8Array }).payload;
  t.ok(payload instanceof Uint8Array, "binary stays binary");
  t.same(Array.from(payload), Array.from(bytes));
  t.equal(c.data, "just a string");
});

t.test("ping; an unreachable database is `unavailable` with the cause kept", async (t) => {
  const { store } = await freshStore(t);
  await store.ping();
  // Port 1 is never PostgreSQL: the connection is refused at once.
  const down = openStore({
    url: "postgres://postgres@127.0.0.1:1/test",
    schema: "jetmesh",
    poolMax: 1,
  }, log);
  t.teardown(() => down.close());
  for (
    const [name, op] of [
      ["ping", () => down.ping()],
      ["history", () => down.history("c", undefined, 10)],
      ["insertEvents", () => down.insertEvents([eventRow("c", 1, 1)])],
    ] as const
  ) {
    const err = await op().then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof JetmeshError, `${name} throws JetmeshError`);
    t.equal((err as JetmeshError).code, "unavailable", name);
    t.match((err as Error).cause, { code: "ECONNREFUSED" }, `${name} keeps the cause`);
  }
});

t.test("statement errors are not mistaken for an outage", async (t) => {
  const { store } = await freshStore(t);
  // No migrate: the table is missing, which is a bug to surface as is (SQLSTATE 42P01).
  const err = await store.history("c", undefined, 1).then(() => undefined, (e: unknown) => e);
  t.notOk(err instanceof JetmeshError);
  t.match(err, { code: "42P01" });
});

t.test("a schema name that is not a plain identifier is refused", async (t) => {
  t.throws(() => openStore({ url: "postgres://127.0.0.1/x", schema: "a.b", poolMax: 1 }, log), {
    code: "bad_config",
  });
});

import t from "tap";
import postgres from "postgres";
import { DEFAULT_TEST_DATABASE_URL, redact, testDatabase, uniqueSchemaName } from "./test-db.ts";

t.test("schema names are unique SQL identifiers", async (t) => {
  const names = new Set(Array.from({ length: 100 }, () => uniqueSchemaName()));
  t.equal(names.size, 100);
  for (const n of names) t.match(n, /^jm_\d+_[a-z0-9]{8}$/);
});

t.test("redact hides passwords", async (t) => {
  t.equal(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
  t.equal(redact(DEFAULT_TEST_DATABASE_URL), DEFAULT_TEST_DATABASE_URL);
});

t.test("testDatabase: fresh schema, not created, dropped with its tables", async (t) => {
  const db = await testDatabase();
  t.teardown(() => db.drop());
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 5 }));

  const exists = async () =>
    (await sql`select 1 from information_schema.schemata where schema_name = ${db.schema}`)
      .length === 1;
  t.notOk(await exists(), "the helper does not create the schema");

  // What a migration would do.
  await sql`create schema ${sql(db.schema)}`;
  await sql`create table ${sql(db.schema)}.t (id int primary key)`;
  await sql`insert into ${sql(db.schema)}.t values (1)`;
  t.ok(await exists());

  await db.drop();
  t.notOk(await exists(), "drop removes the schema and its tables");
  await db.drop();
  t.pass("drop is idempotent");
});

t.test("unreachable server gives a clear error", async (t) => {
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = "postgres://nobody:pw@127.0.0.1:1/none";
  t.teardown(() => {
    if (saved === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved;
  });
  await t.rejects(
    testDatabase(),
    /PostgreSQL is not reachable at postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none/,
  );
});

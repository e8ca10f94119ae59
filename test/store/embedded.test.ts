import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { createLogger } from "../../internal/log/mod.ts";
import { openStore, startEmbeddedPostgres } from "../../internal/store/mod.ts";
import { eventRow } from "./rows.ts";

const log = createLogger({ test: "embedded" }, { sink: () => {} });

t.test("the store runs on embedded PGlite", { timeout: 120_000 }, async (t) => {
  const started = performance.now();
  const pg = await startEmbeddedPostgres({ log });
  t.comment(`embedded postgres started in ${Math.round(performance.now() - started)} ms`);
  t.teardown(() => pg.close());
  t.match(pg.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  t.not(pg.url, "postgres://postgres@127.0.0.1:0/postgres", "port 0 resolves to the bound port");

  const store = openStore({ url: pg.url, schema: "jetmesh", poolMax: 1 }, log);
  t.teardown(() => store.close());
  await store.migrate();
  await store.migrate();
  await store.ping();

  const rows = Array.from({ length: 1000 }, (_, i) => eventRow("c", 1000 + (i % 2), i + 1));
  t.equal(await store.insertEvents(rows), 1000);
  t.equal(
    await store.insertEvents(rows.slice(990).concat(eventRow("c", 2000, 1))),
    1,
    "only the new row counts",
  );

  const page = await store.history("c", { epoch: 1001, seq: 996 }, 3);
  t.same(page.map((r) => [r.cursor.epoch, r.cursor.seq]), [[1001, 998], [1001, 1000], [2000, 1]]);
  t.same(page[0].data, { seq: 998 });
  t.equal(page[0].receivedAt, rows[997].receivedAt);
});

t.test("a data directory keeps events across restarts", { timeout: 120_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "jm-pglite-"));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const cfg = (url: string) => ({ url, schema: "jetmesh", poolMax: 1 });

  const first = await startEmbeddedPostgres({ dataDir, log });
  const writer = openStore(cfg(first.url), log);
  await writer.migrate();
  t.equal(await writer.insertEvents([eventRow("kept", 1, 1), eventRow("kept", 1, 2)]), 2);
  await writer.close();
  await first.close();

  const started = performance.now();
  const second = await startEmbeddedPostgres({ dataDir, log });
  t.comment(`reopened in ${Math.round(performance.now() - started)} ms`);
  t.teardown(() => second.close());
  const reader = openStore(cfg(second.url), log);
  t.teardown(() => reader.close());
  await reader.migrate();
  t.same((await reader.history("kept", undefined, 10)).map((r) => r.cursor.seq), [1, 2]);
});

import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import t from "tap";
import { createLogger } from "../../internal/log/mod.ts";
import { migrations } from "../../internal/store/migrations.ts";
import { openStore, startEmbeddedPostgres } from "../../internal/store/mod.ts";

const log = createLogger({ test: "wire" }, { sink: () => {} });
const schema = "wire";
const root = fileURLToPath(new URL("../../", import.meta.url));
const clientScript = fileURLToPath(new URL("./wire-client.ts", import.meta.url));

interface ClientResult {
  errors: string[];
  inserted: number;
  committed: number;
  started: number;
  finished: number;
}

function startClient(url: string, role: "writer" | "reader", rounds: number, batch: number) {
  const child = spawn(process.execPath, [
    "--import",
    "tsx",
    clientScript,
    url,
    schema,
    role,
    String(rounds),
    String(batch),
  ], {
    cwd: root,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const next = async () => (await lines.next()).value as string | undefined;
  return {
    ready: next().then((line) => {
      if (line !== "ready") throw new Error(`${role} said ${line} instead of ready`);
    }),
    go: () => child.stdin.end("go\n"),
    async result(): Promise<ClientResult> {
      const line = await next();
      if ((await exited) !== 0 || !line) throw new Error(`${role} failed: ${line}`);
      return JSON.parse(line) as ClientResult;
    },
    kill: () => child.kill(),
  };
}

function msg(type: string, body: string | Buffer = ""): Buffer {
  const b = typeof body === "string" ? Buffer.from(body) : body;
  const head = Buffer.alloc(5);
  head.write(type, 0);
  head.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([head, b]);
}

const startupParams = Buffer.from("user\0postgres\0database\0postgres\0\0");
const startup = Buffer.concat([
  Buffer.from([0, 0, 0, 8 + startupParams.length, 0, 3, 0, 0]),
  startupParams,
]);

function rawSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  return new Promise((resolve, reject) =>
    socket.once("connect", () => resolve(socket)).once("error", reject)
  );
}

/** A client speaking the wire protocol by hand, to stop at points postgres.js never stops at. */
async function rawClient(
  url: string,
): Promise<{ socket: Socket; send(until: string, ...msgs: Buffer[]): Promise<Buffer> }> {
  const socket = await rawSocket(url);
  let received = Buffer.alloc(0);
  let waiter: (() => void) | undefined;
  socket.on("data", (d: Buffer) => {
    received = Buffer.concat([received, d]);
    waiter?.();
  });
  /** Sends, then resolves with the reply once it ends with a whole message of type `until`. */
  const send = (until: string, ...msgs: Buffer[]) =>
    new Promise<Buffer>((resolve) => {
      received = Buffer.alloc(0);
      waiter = () => {
        for (let i = 0; i + 5 <= received.length;) {
          const end = i + 1 + received.readInt32BE(i + 1);
          if (end === received.length && received[i] === until.charCodeAt(0)) {
            return resolve(received);
          }
          i = end;
        }
      };
      socket.write(Buffer.concat(msgs));
    });
  await send("Z", startup);
  return { socket, send };
}

// One server for all: PGlite.create takes 5–9 s.
t.test("clients of one embedded server", { timeout: 90_000 }, async (t) => {
  const started = performance.now();
  const pg = await startEmbeddedPostgres({ log });
  t.comment(`embedded postgres started in ${Math.round(performance.now() - started)} ms`);
  t.teardown(() => pg.close());
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end({ timeout: 5 }));

  await t.test("two processes with one connection each take turns without errors", {
    timeout: 60_000,
  }, async (t) => {
    const rounds = 40;
    const batch = 25;
    const writer = startClient(pg.url, "writer", rounds, batch);
    const reader = startClient(pg.url, "reader", rounds, batch);
    t.teardown(() => (writer.kill(), reader.kill()));
    await Promise.all([writer.ready, reader.ready]);
    writer.go();
    reader.go();
    const [w, r] = await Promise.all([writer.result(), reader.result()]);
    t.comment(`writer ${w.finished - w.started} ms, reader ${r.finished - r.started} ms`);

    t.same(w.errors, [], "writer: no errors");
    t.same(r.errors, [], "reader: no errors, every page and transaction consistent");
    t.ok(w.started < r.finished && r.started < w.finished, "the two ran at the same time");
    t.equal(w.inserted, rounds * batch);
    t.equal(r.committed, rounds - rounds / 4, "every fourth transaction rolled back");

    const versions = await sql`select version from ${
      sql(`${schema}.schema_migrations`)
    } order by version`;
    t.same(
      versions.map((v) => v.version),
      migrations.map((_, i) => i + 1),
      "the concurrent migrations ran once",
    );
    const [{ events }] = await sql`select count(*)::int as events from ${sql(`${schema}.events`)}`;
    t.equal(events, rounds * batch);
    const [{ txs }] = await sql`select count(*)::int as txs from ${sql(`${schema}.tx_log`)}`;
    t.equal(txs, r.committed);
  });

  await t.test(
    "a client that disconnects mid-turn does not wedge the server, and its work is discarded",
    { timeout: 30_000 },
    async (t) => {
      const store = openStore({ url: pg.url, schema, poolMax: 1 }, log);
      t.teardown(() => store.close());
      await store.migrate();
      await sql`create table if not exists ${sql(`${schema}.tx_log`)} (n int primary key)`;

      const inTx = await rawClient(pg.url);
      const reply = await inTx.send(
        "Z",
        msg("Q", `begin; insert into ${schema}.tx_log values (-1)\0`),
      );
      t.equal(String.fromCharCode(reply.at(-1)!), "T", "in a transaction");
      let answered = false;
      const waiting = store.ping().then(() => (answered = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      t.notOk(answered, "others wait while a client is inside a transaction");
      inTx.socket.destroy();
      await waiting;
      t.ok(answered, "answered once the client is gone");

      // Parse, Bind and Execute without the Sync that would commit the insert.
      const halfSent = await rawClient(pg.url);
      await halfSent.send(
        "C",
        msg("P", `\0insert into ${schema}.tx_log values (-2)\0\0\0`),
        msg("B", Buffer.alloc(8)),
        msg("E", Buffer.alloc(5)),
      );
      halfSent.socket.destroy();
      await store.ping();

      const left = await sql`select n from ${sql(`${schema}.tx_log`)} where n < 0`;
      t.same(left, [], "neither client's insert was committed");
      t.same(await sql`select 1 as one`, [{ one: 1 }], "the session is usable");
    },
  );

  await t.test("past maxConnections a client is refused with 53300 and the slot is freed", {
    timeout: 30_000,
  }, async (t) => {
    // Fill the server to its limit: connect until one is refused.
    const held: Socket[] = [];
    t.teardown(() => held.forEach((s) => s.destroy()));
    for (;;) {
      const s = await rawSocket(pg.url);
      s.on("error", () => {});
      s.write(startup);
      const [first] = (await once(s, "data")) as [Buffer];
      if (first[0] === "E".charCodeAt(0)) break;
      held.push(s);
    }

    const refused = openStore({ url: pg.url, schema, poolMax: 1 }, log);
    await t.rejects(refused.ping(), { code: "unavailable", cause: { code: "53300" } });
    await refused.close();
    held.pop()!.destroy();

    // The server frees a slot when it sees the close, a moment after the client.
    const later = openStore({ url: pg.url, schema, poolMax: 1 }, log);
    t.teardown(() => later.close());
    for (let tries = 1;; tries++) {
      const err = await later.ping().then(() => undefined, (e: unknown) => e);
      if (!err) break;
      if (tries === 20) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.pass("the freed slot is usable, the refused client holds none");
  });
});

// The writer's guarantees with the database's answers held back or refused
// by the test: a batch is acked only after its commit, and after a failed
// commit only once one succeeds; each row carries its stream position as its
// cursor; a row the database rejects is parked alone while the rest of its
// batch is stored and acked.
import type { JetStreamClient } from "@nats-io/jetstream";
import t from "tap";
import { EVENTS_PREFIX, EVENTS_STREAM } from "../../subjects/mod.ts";
import { deferred, envelope, eventMsg, FakePublisher, settle } from "../../test/fakes/jetstream.ts";
import { JetmeshError } from "../errors/mod.ts";
import { createLogger } from "../log/mod.ts";
import { createRegistry } from "../metrics/mod.ts";
import type { EventRow, Store } from "../store/mod.ts";
import { persistMetrics } from "./metrics.ts";
import { BatchWriter } from "./writer.ts";

const EPOCH = 1_764_000_000_123;

function writerWith(insertEvents: (rows: EventRow[]) => Promise<number>) {
  const log: string[] = [];
  const dlq = new FakePublisher("DLQ", true);
  const writer = new BatchWriter({
    store: { insertEvents } as unknown as Store,
    js: dlq as unknown as JetStreamClient,
    epoch: EPOCH,
    log: createLogger({ svc: "persist" }, { level: "error", sink: () => {} }),
    signal: new AbortController().signal,
    maxAttempts: 1,
    metrics: persistMetrics(createRegistry("persist")),
  });
  const batch = (ids: string[], firstSeq = 1) =>
    ids.map((id, i) =>
      eventMsg(EVENTS_STREAM, EVENTS_PREFIX, firstSeq + i, envelope("p", id, "chat.a"), log)
    );
  return { log, dlq, writer, batch };
}

t.test("a batch is acked only after its commit, each message once", async (t) => {
  const commit = deferred<number>();
  const inserted: EventRow[][] = [];
  const { writer, batch } = writerWith((rows) => {
    inserted.push(rows);
    return commit.promise;
  });
  const msgs = batch(["e1", "e2", "e3"], 40);
  const writing = writer.write(msgs.map((m) => m.msg));
  await settle();
  t.equal(inserted.length, 1, "one insert for the batch");
  t.same(
    inserted[0].map((r) => [r.eventId, r.cursor.epoch, r.cursor.seq]),
    [["p:e1", EPOCH, 40], ["p:e2", EPOCH, 41], ["p:e3", EPOCH, 42]],
    "each row's cursor is its stream position under the stream's epoch",
  );
  t.same(msgs.map((m) => m.acks()), [0, 0, 0], "nothing acked before the commit");
  commit.resolve(3);
  await writing;
  t.same(msgs.map((m) => m.acks()), [1, 1, 1], "all acked once after it");
});

t.test("a failed commit acks nothing; the retry that commits acks all", async (t) => {
  let calls = 0;
  const { writer, batch } = writerWith(() => {
    calls++;
    return calls === 1
      ? Promise.reject(new JetmeshError("unavailable", "database down"))
      : Promise.resolve(2);
  });
  const msgs = batch(["e1", "e2"]);
  await writer.write(msgs.map((m) => m.msg));
  t.equal(calls, 2, "retried");
  t.same(msgs.map((m) => m.acks()), [1, 1], "acked once each, after the commit");
});

t.test("a rejected row is parked alone; the rest of its batch is stored and acked", async (t) => {
  const stored: string[] = [];
  const { writer, batch, dlq } = writerWith((rows) => {
    if (rows.some((r) => r.eventId === "p:bad")) {
      return Promise.reject(new JetmeshError("rejected", "violates a check constraint"));
    }
    stored.push(...rows.map((r) => r.eventId));
    return Promise.resolve(rows.length);
  });
  const ids = ["e1", "e2", "e3", "bad", "e5", "e6", "e7"];
  const msgs = batch(ids);
  await writer.write(msgs.map((m) => m.msg));
  t.same(
    [...stored].sort(),
    ids.filter((id) => id !== "bad").map((id) => `p:${id}`).sort(),
    "every other row stored",
  );
  t.equal(stored.length, 6, "each once");
  t.same(dlq.published.map((p) => p.subject), ["dlq.persist.chat.a"], "the rejected row parked");
  t.same(msgs.map((m) => m.acks()), ids.map(() => 1), "every message acked once");
});

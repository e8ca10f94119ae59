// Hand-picked mutations of the code jetmesh's guarantees rest on (issue 16):
// each one breaks a promise (exactly once, order per channel, no gap on
// resume, bad input refused) in a way a plausible bug would, and names the
// tests that must notice. `make test-mutations` applies them one at a time
// (test/mutations/run.ts); a mutation no test fails on is a hole in the
// tests.
//
// `where` is a file or a directory: in a directory the search text is looked
// for in every .ts file but tests, so a file renamed inside it is still found.
// The text must occur exactly once in all of `where`, or the runner fails: a
// rename or rewrite of the target makes it fail loudly instead of skipping.

export interface Mutation {
  id: string;
  where: string;
  search: string;
  replace: string;
  /** The promise it breaks. */
  why: string;
  /** Unit tests first (fast, they stop the run on the first failure), at most one e2e file. */
  tests: string[];
}

const RELAY = "internal/route/relay.ts";
const RELAY_TESTS = ["internal/route/relay.test.ts"];
const WRITER = "internal/persist/writer.ts";
const WRITER_TESTS = ["internal/persist/writer.test.ts"];
const STORE = "internal/store/postgres.ts";
const STORE_TESTS = ["test/store/postgres.test.ts"];
const HUB = "internal/notify/hub.ts";
const HUB_TESTS = ["internal/notify/hub.test.ts"];
// Ingest's publisher is being renamed: the directory, not the file.
const INGEST = "internal/ingest";
const PIPELINE = ["test/e2e/pipeline.test.ts"];
const PARSE = "internal/protocol/parse.ts";
const PARSE_TESTS = ["internal/protocol/parse.test.ts"];
const CURSOR = "subjects/cursor.ts";
const CURSOR_TESTS = ["subjects/channel.test.ts"];

export const MUTATIONS: Mutation[] = [
  // route: relay and dedupe
  {
    id: "route-ack-before-pubAck",
    where: RELAY,
    search:
      "    const started = performance.now();\n    try {\n      // Dedupe (docs/dedupe.md), hop 2",
    replace:
      "    m.ack();\n    const started = performance.now();\n    try {\n      // Dedupe (docs/dedupe.md), hop 2",
    why: "a crash after the input's ack and before the output's PubAck loses the event",
    tests: RELAY_TESTS,
  },
  {
    id: "events-short-duplicate-window",
    where: "internal/config/common.ts",
    search: "    eventsDuplicateWindowMs: readDedupeTtlMs(r),",
    replace: "    eventsDuplicateWindowMs: 1000,",
    why:
      "a retry past INGEST's window, or a redelivery after a durable lost its acks, is routed, stored and delivered twice",
    tests: ["test/e2e/dlq.test.ts"],
  },
  {
    id: "route-msgid-not-event-id",
    where: RELAY,
    search: "        msgID: env.id,\n        headers: h,",
    replace: "        msgID: `${env.id}:${Date.now()}`,\n        headers: h,",
    why: "EVENTS cannot drop the republish after a crash between PubAck and ack",
    tests: RELAY_TESTS,
  },
  {
    id: "route-drop-ack",
    where: RELAY,
    search: "  #ack(m: JsMsg): void {\n    m.ack();",
    replace: "  #ack(m: JsMsg): void {\n    void m;",
    why: "every input is redelivered after the ack wait and routed again",
    tests: RELAY_TESTS,
  },
  {
    id: "route-channel-not-serial",
    where: RELAY,
    search: "this.#order.run(rules?.key ?? channel, run)",
    replace: "this.#order.run(rules?.key ?? String(seq), run)",
    why: "a retried publish lets a later event of its channel overtake it",
    tests: RELAY_TESTS,
  },
  // route's partitions: the channel → partition map and a take-over's left-overs
  {
    id: "partition-hash-changed",
    where: "subjects/partitions.ts",
    search: "h = Math.imul(h, 0x01000193) >>> 0;",
    replace: "h = Math.imul(h, 0x01000197) >>> 0;",
    why: "a new hash moves channels between partitions: events in flight across an upgrade reorder",
    tests: ["subjects/partitions.test.ts"],
  },
  {
    id: "takeover-not-in-stream-order",
    where: "internal/route/takeover.ts",
    search: "      a.info.streamSequence - b.info.streamSequence\n",
    replace: "      b.info.streamSequence - a.info.streamSequence\n",
    why: "the gathered left-overs of a partition go out newest first",
    tests: ["internal/route/takeover.test.ts", "test/e2e/route-replicas.test.ts"],
  },
  {
    id: "takeover-no-gather",
    where: "internal/route/takeover.ts",
    search: "    if (foreign > 0) {\n",
    replace: "    if (foreign > 1e9) {\n",
    why: "a replica that takes a partition over relays new events before the ones the dead " +
      "holder left unacked: they come back after ack_wait, behind their successors",
    tests: ["internal/route/takeover.test.ts", "test/e2e/route-replicas.test.ts"],
  },
  // route's processing (issue 15): duplicates, deterministic output ids, replay after a crash
  {
    id: "processing-duplicate-counts-twice",
    where: "internal/processing/window-state.ts",
    search: "      if (w.events.has(id)) continue;\n",
    replace: "      if (w.events.has(id) && id === '') continue;\n",
    why: "a reading sent twice (same event id) counts twice in its window's aggregates",
    tests: [
      "internal/processing/engine-windows.test.ts",
      "internal/processing/window-state.test.ts",
    ],
  },
  {
    id: "processing-window-id-per-run",
    where: "internal/processing/engine.ts",
    search: "`${ns}/${rule}:${encodeURIComponent(key)}:${start}${",
    replace: "`${ns}/${rule}:${encodeURIComponent(key)}:${start}:${process.pid}${",
    why: "a window result replayed by another process after a crash gets a new id: published twice",
    tests: ["internal/processing/partition.test.ts", "test/faults/processing.test.ts"],
  },
  {
    id: "processing-no-replay-on-take-over",
    where: "internal/route/processing.ts",
    search: "const from = proc.replayFrom;",
    replace: "const from = upTo + 1;",
    why: "a replica taking a partition over skips the inputs acked since its checkpoint: " +
      "their readings go missing from their windows",
    tests: ["test/faults/processing.test.ts"],
  },
  // persist: the writer and the store's idempotent insert
  {
    id: "persist-ack-before-commit",
    where: WRITER,
    search: "        const inserted = await this.#o.store.insertEvents(",
    replace:
      "        for (const p of pending) p.msg.ack();\n        const inserted = await this.#o.store.insertEvents(",
    why: "a crash or failed commit after the ack loses the batch",
    tests: WRITER_TESTS,
  },
  {
    id: "persist-ack-one-short",
    where: WRITER,
    search: "        for (const p of pending) {\n          p.msg.ack();",
    replace: "        for (const p of pending.slice(1)) {\n          p.msg.ack();",
    why: "an event never acked is redelivered forever",
    tests: WRITER_TESTS,
  },
  {
    id: "persist-split-loses-a-row",
    where: WRITER,
    search: "            await this.#store(pending.slice(half));",
    replace: "            await this.#store(pending.slice(half + 1));",
    why: "off by one when a rejected batch is split: a good row is neither stored nor acked",
    tests: WRITER_TESTS,
  },
  {
    id: "persist-cursor-off-by-one",
    where: WRITER,
    search: "cursor: { epoch: this.#o.epoch, seq: msg.info.streamSequence },",
    replace: "cursor: { epoch: this.#o.epoch, seq: msg.info.streamSequence + 1 },",
    why: "stored cursors differ from the stream's: a resume from PostgreSQL skips or repeats",
    tests: WRITER_TESTS,
  },
  {
    id: "store-no-on-conflict",
    where: STORE,
    search: "        on conflict (event_id) do nothing`",
    replace: "        `",
    why: "a redelivered batch fails on the primary key instead of skipping what is stored",
    tests: STORE_TESTS,
  },
  {
    id: "store-insert-unsorted",
    where: STORE,
    search: "      const values = [...rows].sort(byEventId).map((r) => ({",
    replace: "      const values = rows.map((r) => ({",
    why: "two persist replicas writing overlapping batches in other orders deadlock",
    tests: STORE_TESTS,
  },
  {
    id: "store-replay-includes-cursor",
    where: STORE,
    search: "          and (epoch, seq) > (${after.epoch}, ${after.seq})",
    replace: "          and (epoch, seq) >= (${after.epoch}, ${after.seq})",
    why: "a resume from PostgreSQL repeats the event at the client's cursor",
    tests: STORE_TESTS,
  },
  {
    id: "store-replay-out-of-order",
    where: STORE,
    search:
      "          and (epoch, seq) < (${before.epoch}, ${before.seq})\n        order by epoch, seq",
    replace:
      "          and (epoch, seq) < (${before.epoch}, ${before.seq})\n        order by epoch desc, seq desc",
    why: "a resume from PostgreSQL delivers a channel's events out of order",
    tests: STORE_TESTS,
  },
  {
    id: "store-history-includes-cursor",
    where: STORE,
    search: "after ? sql`and (epoch, seq) > (",
    replace: "after ? sql`and (epoch, seq) >= (",
    why: "paging history with `next` repeats the last event of the previous page",
    tests: STORE_TESTS,
  },
  // notify: the hub (live delivery), the outbox, replay pacing
  {
    id: "hub-offers-overlap-again",
    where: HUB,
    search: "if (seq <= this.#position) return;",
    replace: "if (seq < this.#position) return;",
    why: "a replaced shared consumer delivers its overlap to live subscribers twice",
    tests: HUB_TESTS,
  },
  {
    id: "hub-ignores-gap",
    where: HUB,
    search: "    if (seq > this.#position + 1) this.#gap(seq);\n",
    replace: "",
    why: "events that left the stream unread are silently missing for live subscribers",
    tests: HUB_TESTS,
  },
  {
    id: "hub-restart-skips-one",
    where: HUB,
    search: "opt_start_seq: this.#position + 1,",
    replace: "opt_start_seq: this.#position + 2,",
    why: "a replaced shared consumer starts one past the next event",
    tests: HUB_TESTS,
  },
  {
    id: "outbox-swaps-a-write",
    where: "internal/notify/outbox.ts",
    search: ": this.#conn.sendMany(frames);",
    replace: ": this.#conn.sendMany([...frames].reverse());",
    why: "events sent in one write reach the subscriber out of order",
    tests: PIPELINE,
  },
  {
    id: "pace-max-age-doubled",
    where: "internal/notify/pace.ts",
    search: "if (ts < now - maxAgeMs) {",
    replace: "if (ts < now - 2 * maxAgeMs) {",
    why: "a resume older than the namespace allows is replayed",
    tests: ["internal/notify/pace.test.ts"],
  },
  {
    id: "pace-rate-doubled",
    where: "internal/notify/pace.ts",
    search: "((this.#sent - this.#limits.eventsPerSecond) * 1000) / this.#limits.eventsPerSecond;",
    replace:
      "((this.#sent - 2 * this.#limits.eventsPerSecond) * 1000) / this.#limits.eventsPerSecond;",
    why: "a replay goes out faster than the namespace's eventsPerSecond",
    tests: ["internal/notify/pace.test.ts"],
  },
  // notify's subscription. The catch-up's and the hub offer's own `seq < next` checks are
  // not listed: Delivery.send drops the same events again before any write, so weakening
  // either one changes nothing a subscriber sees; the mutation of send's check is.
  {
    id: "notify-store-batch-repeats",
    where: "internal/notify/subscription-delivery.ts",
    search: "        if (ev.seq < this.next) continue;",
    replace: "        if (ev.seq < this.next - 1) continue;",
    why: "a catch-up from PostgreSQL repeats the event the stream already delivered",
    tests: [
      "internal/notify/subscription-delivery.test.ts",
      "internal/notify/subscription.test.ts",
    ],
  },
  {
    id: "notify-expired-gap-not-filled",
    where: "internal/notify/subscription-catch-up.ts",
    search: "        if (seq > delivery.next && !(await this.#fillExpired(seq))) return false;",
    replace: "        if (seq > delivery.next && Math.random() > 2) return false;",
    why:
      "events that expired from the stream during a catch-up are skipped, not read from PostgreSQL",
    tests: [
      "internal/notify/subscription.test.ts",
      "internal/notify/subscription-catch-up.test.ts",
    ],
  },
  // notify's start point (cursor-resume.ts)
  {
    id: "notify-resume-repeats-cursor",
    where: "internal/notify",
    search:
      "return { epoch, fromSeq: after.seq + 1, after, fromStore: false, resumed: true, maxAgeMs };",
    replace:
      "return { epoch, fromSeq: after.seq, after, fromStore: false, resumed: true, maxAgeMs };",
    why: "a resume from a cursor delivers the cursor's own event again",
    tests: ["test/e2e/resume.test.ts"],
  },
  // ingest: the publish to INGEST
  {
    id: "ingest-no-msg-id",
    where: INGEST,
    search: "{ msgID: env.id, headers: h, timeout:",
    replace: "{ headers: h, timeout:",
    why: "a client's retry is stored and delivered twice",
    tests: PIPELINE,
  },
  {
    id: "ingest-ack-before-pubAck",
    where: INGEST,
    search: "    const pa = await publishWithRetry(\n      o.pub,",
    replace:
      "    const pa = { seq: 0, duplicate: false };\n    void publishWithRetry(\n      o.pub,",
    why: "the client is acked for an event JetStream may never have stored",
    tests: PIPELINE,
  },
  // the protocol parser and the codec's depth limit
  {
    id: "parse-accepts-missing-data",
    where: PARSE,
    search: 'if (!("data" in f) || f.data === undefined) {',
    replace: 'if (!("data" in f) && f.data === null) {',
    why: "a publish without data is accepted",
    tests: PARSE_TESTS,
  },
  {
    id: "parse-accepts-wildcard-publish",
    where: PARSE,
    search: "  const channel = requireChannel(f, false);\n  if (!(",
    replace: "  const channel = requireChannel(f, true);\n  if (!(",
    why: "a publish to a pattern is accepted",
    tests: PARSE_TESTS,
  },
  {
    id: "parse-accepts-bad-id",
    where: PARSE,
    search: "if (f.id !== undefined && !isClientId(f.id)) {",
    replace: 'if (f.id !== undefined && typeof f.id !== "string") {',
    why: "an id with spaces or past 128 characters is accepted",
    tests: PARSE_TESTS,
  },
  {
    id: "parse-accepts-bad-cursor",
    where: PARSE,
    search: "if (f.after !== undefined && parseCursor(f.after) === undefined) {",
    replace: 'if (f.after !== undefined && typeof f.after !== "string") {',
    why: "a subscription with a malformed `after` is accepted",
    tests: PARSE_TESTS,
  },
  {
    id: "json-depth-off-by-one",
    where: "internal/codec/depth.ts",
    search: "if (++depth > max) return true;",
    replace: "if (++depth > max + 1) return true;",
    why: "JSON one level past the limit reaches JSON.parse",
    tests: ["internal/codec/frame.test.ts"],
  },
  {
    id: "msgpack-depth-off-by-one",
    where: "internal/codec/depth.ts",
    search: "if (item.depth > max) return true;",
    replace: "if (item.depth > max + 1) return true;",
    why: "msgpack one level past the limit is accepted",
    tests: ["internal/codec/frame.test.ts"],
  },
  // cursors
  {
    id: "cursor-compare-seq-first",
    where: CURSOR,
    search: "return a.epoch !== b.epoch ? a.epoch - b.epoch : a.seq - b.seq;",
    replace: "return a.seq !== b.seq ? a.seq - b.seq : a.epoch - b.epoch;",
    why: "a cursor of an older epoch with a larger seq sorts after the new stream's",
    tests: CURSOR_TESTS,
  },
  {
    id: "cursor-parse-unanchored",
    where: CURSOR,
    search: "const cursorRe = /^(\\d{1,15})-(\\d{1,15})$/;",
    replace: "const cursorRe = /(\\d{1,15})-(\\d{1,15})/;",
    why: "text around a cursor is ignored instead of refused",
    tests: CURSOR_TESTS,
  },
];

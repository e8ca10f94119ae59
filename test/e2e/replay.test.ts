import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import postgres from "postgres";
import t, { type Test } from "tap";
import { EVENTS_STREAM, streamConfigs } from "../../subjects/mod.ts";
import { ensureStreams } from "../../internal/bus/mod.ts";
import { readRouteConfig } from "../../internal/route/config.ts";
import { publishMarkers, TestClient } from "../../devkit/test-client.ts";
import { type Stack, startStack, testLogger } from "../../devkit/in-process-stack.ts";
import { events, seqOf, Traffic } from "./traffic.ts";

async function withJsm<T>(
  stack: Stack,
  fn: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: stack.nats.url, ...stack.admin });
  try {
    return await fn(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

const firstSeqOf = (stack: Stack) =>
  withJsm(stack, async (jsm) => (await jsm.streams.info(EVENTS_STREAM)).state.first_seq);

async function subscribed(stack: Stack, channel: string, after?: string): Promise<TestClient> {
  const c = await TestClient.open(stack.notifyWs);
  c.sendJson(after === undefined ? { op: "sub", channel } : { op: "sub", channel, after });
  await c.next((f) => f.op === "subscribed");
  return c;
}

/**
 * Reads until `enough` events arrived, then disconnects; returns the ids seen and the last
 * cursor.
 */
async function readThenLeave(
  c: TestClient,
  enough: number,
): Promise<{ ids: string[]; last: string }> {
  await c.until(
    (fs) => fs.filter((f) => f.op === "event").length >= enough,
    20_000,
    "first events",
  );
  await c.close();
  return { ids: events(c).map((f) => f.id as string), last: events(c).at(-1)!.cursor as string };
}

/**
 * Resumes after `before.last` while the traffic keeps flowing; once the replay
 * has caught up, stops the traffic and checks that the two subscriptions
 * together saw every expected event once, in order.
 */
async function resumeAndCheck(
  t: Test,
  stack: Stack,
  channel: string,
  before: { ids: string[]; last: string },
  traffic: Traffic,
  match: (c: string) => boolean,
) {
  const firstSeq = await firstSeqOf(stack);
  t.ok(
    firstSeq > seqOf(before.last) + 1,
    `EVENTS dropped events after the cursor (first seq ${firstSeq}, cursor ${before.last})`,
  );
  const c = await subscribed(stack, channel, before.last);
  t.teardown(() => c.close());
  t.match(
    c.frames[0],
    { op: "subscribed", cursor: before.last },
    "subscribed after the old cursor",
  );
  const atResume = traffic.ids(match).length;
  await c.until(
    (fs) => before.ids.length + fs.filter((f) => f.op === "event").length >= atResume,
    30_000,
    "the replay",
  );
  // Live for a while after the replay, publishing all along.
  await c.until(
    (fs) => before.ids.length + fs.filter((f) => f.op === "event").length >= atResume + 25,
    30_000,
    "live events",
  );
  await traffic.stop();
  const expected = traffic.ids(match);
  t.ok(
    expected.length > atResume + 20,
    `publishing went on across the switch (${expected.length - atResume} events after the resume)`,
  );
  await c.until(
    (fs) => before.ids.length + fs.filter((f) => f.op === "event").length >= expected.length,
    30_000,
    "everything",
  );
  // A marker on a channel of the subscription, published last, ends the wait: a late
  // duplicate would arrive before it. (`chat.*` → `chat.marker`; a concrete channel as is.)
  const [marker] = await publishMarkers(stack.ingestWs, [channel.replace("*", "marker")]);
  await c.next((f) => f.op === "event" && f.id === marker, 0, 30_000);
  const after = events(c);
  const got = [...before.ids, ...after.map((f) => String(f.id))];
  // Order is per channel: route relays channels in different partitions side by side, so
  // events of two channels may reach EVENTS in another order than they were published.
  const channelOf = new Map(traffic.published.map((e) => [e.id, e.channel]));
  const perChannel = (ids: string[]) => {
    const m = new Map<string, string[]>();
    for (const id of ids) m.set(channelOf.get(id)!, [...(m.get(channelOf.get(id)!) ?? []), id]);
    return Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)));
  };
  t.same(
    { count: got.length, perChannel: perChannel(got) },
    { count: expected.length, perChannel: perChannel(expected) },
    `all ${expected.length} events once, in order per channel, across the switch`,
  );
  const seqs = after.map((f) => seqOf(f.cursor));
  t.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), "cursors increase");
  return { seqs, firstSeq };
}

t.test("a cursor older than EVENTS retention replays from PostgreSQL, then JetStream, while publishers run", async (t) => {
  const stack = await startStack({ EVENTS_MAX_AGE: "1s" });
  t.teardown(stack.stop);
  const match = (c: string) => c.startsWith("chat.");
  const first = await subscribed(stack, "chat.*");
  const traffic = await Traffic.start(stack.ingestWs, "p", [
    "chat.a",
    "other.x",
    "chat.b",
    "chat.c",
  ]);
  const before = await readThenLeave(first, 100);
  // Away until at least 100 events after the cursor have expired from EVENTS (publishing goes on).
  for (let i = 0; i < 300 && (await firstSeqOf(stack)) <= seqOf(before.last) + 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const { seqs, firstSeq } = await resumeAndCheck(t, stack, "chat.*", before, traffic, match);
  const fromStore = seqs.filter((s) => s < firstSeq).length;
  t.ok(fromStore > 50, `${fromStore} events came from PostgreSQL`);
  t.ok(seqs.length - fromStore > 50, `${seqs.length - fromStore} came from JetStream`);
});

t.test("a cursor from before a purge replays the purged part from PostgreSQL", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());
  const first = await subscribed(stack, "chat.a");
  const traffic = await Traffic.start(stack.ingestWs, "p", ["chat.a", "chat.b"]);
  const before = await readThenLeave(first, 50);
  await new Promise((r) => setTimeout(r, 500));
  // Purge what persist has stored, while publishing goes on.
  const [{ max }] = await sql`select max(seq)::int as max from ${sql(stack.db.schema)}.events`;
  await withJsm(stack, (jsm) => jsm.streams.purge(EVENTS_STREAM, { seq: max + 1 }));
  await resumeAndCheck(t, stack, "chat.a", before, traffic, (c) => c === "chat.a");
});

t.test("a cursor from a deleted and recreated stream replays the old epoch from PostgreSQL, then the new stream", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());
  const pub = async (from: number, to: number) => {
    const p = await TestClient.open(`${stack.ingestWs}?publisher=p`);
    for (let i = from; i < to; i++) p.sendJson({ op: "pub", id: `e${i}`, channel: "r", data: i });
    await p.until((fs) => fs.length >= to - from, 10_000, "acks");
    await p.close();
  };
  const sub = await subscribed(stack, "r");
  await pub(0, 10);
  const { last } = await readThenLeave(sub, 10);
  const cursor = events(sub)[4].cursor as string;
  t.equal(seqOf(last), 10);
  for (let i = 0; i < 100; i++) {
    const [{ n }] = await sql`select count(*)::int as n from ${sql(stack.db.schema)}.events`;
    if (n >= 10) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  // Recreated under the workers; they restart to bind to the new stream (persist takes its new
  // epoch).
  await stack.stopService("route");
  await stack.stopService("persist");
  await withJsm(stack, async (jsm) => {
    await jsm.streams.delete(EVENTS_STREAM);
    await ensureStreams(jsm, streamConfigs(readRouteConfig(stack.env).streams), testLogger("test"));
  });
  await stack.startService("persist");
  await stack.startService("route");
  await pub(10, 20);

  const again = await subscribed(stack, "r", cursor);
  t.teardown(() => again.close());
  await again.until((fs) => fs.filter((f) => f.op === "event").length >= 15, 10_000, "replay");
  const [marker] = await publishMarkers(stack.ingestWs, ["r"]);
  await again.next((f) => f.op === "event" && f.id === marker);
  t.same(
    events(again).map((f) => f.data),
    Array.from({ length: 15 }, (_, i) => i + 5),
    "events 5..19 once, in order",
  );
  const epochs = new Set(events(again).map((f) => String(f.cursor).split("-")[0]));
  t.equal(epochs.size, 2, "under two epochs");
});

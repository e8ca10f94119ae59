import postgres from "postgres";
import t from "tap";
import { startStack } from "../../devkit/in-process-stack.ts";
import { deliveredThrough, type Frame, TestClient } from "../../devkit/test-client.ts";

const CHANNELS = ["chat.lobby", "chat.room-1", "iot.sensor_7", "tx.eu.west", "a"];

t.test("1000 events over 5 channels, 100 resent: stored once, acked dup with the original seq, delivered once in order", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());

  const subscribers = new Map<string, TestClient>();
  for (const ch of CHANNELS) {
    const c = await TestClient.open(stack.notifyWs);
    t.teardown(() => c.close());
    c.sendJson({ op: "sub", channel: ch });
    await c.next((f) => f.op === "subscribed");
    subscribers.set(ch, c);
  }

  const pub = await TestClient.open(`${stack.ingestWs}?publisher=tester`);
  t.teardown(() => pub.close());
  const sent: Array<{ id: string; channel: string }> = [];
  for (let i = 0; i < 1000; i++) {
    sent.push({ id: `e-${i}`, channel: CHANNELS[i % CHANNELS.length] });
  }
  const retried = sent.filter((_, i) => i % 10 === 3);
  t.equal(retried.length, 100);

  for (const e of sent) {
    pub.sendJson({ op: "pub", id: e.id, channel: e.channel, data: { n: e.id } });
  }
  await pub.until((fs) => fs.length >= 1000, 30_000, "1000 acks");
  for (const e of retried) {
    pub.sendJson({ op: "pub", id: e.id, channel: e.channel, data: { n: e.id } });
  }
  await pub.until((fs) => fs.length >= 1100, 30_000, "1100 acks");

  const acks = pub.ofOp("ack");
  t.equal(acks.length, 1100, "every publish acked, no errors");
  const firstAck = new Map<string, Frame>();
  for (const a of acks.slice(0, 1000)) firstAck.set(a.id as string, a);
  t.equal(firstAck.size, 1000);
  t.ok([...firstAck.values()].every((a) => a.dup === false), "first sends are not duplicates");
  const retryAcks = acks.slice(1000);
  t.ok(
    retryAcks.every((a) => a.dup === true && a.seq === firstAck.get(a.id as string)?.seq),
    "each retry acked dup:true with its original seq",
  );

  // Stored exactly once.
  const deadline = Date.now() + 30_000;
  let count = 0;
  while (Date.now() < deadline) {
    [{ count }] = await sql`select count(*)::int as count from ${sql(stack.db.schema)}.events`;
    if (count >= 1000) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(count, 1000, "PostgreSQL holds exactly 1000 rows");

  // Delivered once, in publish order, per channel.
  for (const ch of CHANNELS) {
    const c = subscribers.get(ch)!;
    const expected = sent.filter((e) => e.channel === ch).map((e) => `tester:${e.id}`);
    await c.until(
      (fs) => fs.filter((f) => f.op === "event").length >= expected.length,
      30_000,
      `events of ${ch}`,
    );
    // The marker's arrival, not a pause, ends the wait: a late duplicate would come before it.
    await deliveredThrough((f) => pub.sendJson(f), c, ch);
    const got = c.events().map((f) => f.id);
    t.same(got, expected, `${ch}: every event once, in publish order`);
    const cursors = c.events().map((f) => Number(String(f.cursor).split("-")[1]));
    t.ok(cursors.every((s, i) => i === 0 || s > cursors[i - 1]), `${ch}: cursors increase`);
  }
  // The table's primary key guarantees this one; it documents the claim, the checks that can
  // fail are the subscribers' above.
  const [{ distinct }] = await sql`select count(distinct event_id)::int as distinct from ${
    sql(stack.db.schema)
  }.events where event_id like 'tester:e-%'`;
  t.equal(distinct, 1000);
});

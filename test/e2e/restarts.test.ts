import postgres from "postgres";
import t from "tap";
import { Follower } from "./follower.ts";
import { startProcessStack } from "../../devkit/process-stack.ts";
import { Traffic } from "./traffic.ts";
import { isMarker, publishMarkers } from "../../devkit/test-client.ts";

const epochOf = (cursor: string | undefined) => String(cursor).split("-")[0];

async function waitFor(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test("cursors stay valid across a notify crash and a nats-server restart, publishers running", async (t) => {
  const stack = await startProcessStack();
  t.teardown(stack.stop);
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  t.teardown(() => sql.end());
  const follower = new Follower(stack.notifyWs, "chat.*");
  t.teardown(() => follower.stop());
  await waitFor("subscribed", () => follower.last !== undefined);
  const epoch = epochOf(follower.last);
  const traffic = await Traffic.start(stack.ingestWs, "p", ["chat.a", "x.y", "chat.b"], 5);
  const match = (c: string) => c.startsWith("chat.");

  await follower.until(100);
  await stack.kill("notify");
  await waitFor("the close", () => follower.closes.length > 0);
  t.equal(follower.closes[0], 1006, "kill -9 of notify drops the connection without a close frame");
  await new Promise((r) => setTimeout(r, 500));
  await stack.start("notify");
  await follower.until(traffic.ids(match).length + 50);
  t.ok(follower.sessions >= 2, "the follower resubscribed to the new notify");

  const restartAt = Date.now();
  await stack.nats.restart();
  await follower.until(traffic.ids(match).length + 50, 60_000);
  t.comment(
    `caught up ${
      Date.now() - restartAt
    } ms after the nats-server restart began, ${follower.sessions} sessions`,
  );
  t.equal(epochOf(follower.last), epoch, "the stream epoch survives the nats-server restart");
  const sessions = follower.sessions;
  follower.reconnect();
  await follower.until(traffic.ids(match).length + 50, 60_000);
  t.equal(
    follower.sessions,
    sessions + 1,
    "resubscribed with a cursor from before the nats-server restart",
  );

  await traffic.stop();
  const published = traffic.ids(match);
  await follower.until(published.length);
  // A marker published last ends the wait: a late duplicate would arrive before it.
  const markers = await publishMarkers(stack.ingestWs, ["chat.a"]);
  await waitFor("the marker", () => follower.ids.includes(markers[0]), 30_000);
  // Publishes retried by ingest across the NATS restart may be stored out of publish order
  // (docs/protocol.md, Order): what notify owes is the stored order.
  let stored: string[] = [];
  for (let i = 0; i < 300 && stored.length < published.length; i++) {
    stored =
      (await sql`select event_id from ${
        sql(stack.db.schema)
      }.events where channel like 'chat.%' order by epoch, seq`)
        .map((r) => r.event_id).filter((id) => !isMarker(id));
    await new Promise((r) => setTimeout(r, 100));
  }
  t.same(
    [...stored].sort(),
    [...published].sort(),
    `every one of the ${published.length} published events was stored once`,
  );
  t.same(
    follower.ids.filter((id) => !isMarker(id)),
    stored,
    `the follower saw all ${stored.length} events once, in stored order, through both restarts`,
  );
  t.equal(follower.repeats, 0, "notify never sent an event at or before the resume cursor");
});

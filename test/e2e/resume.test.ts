import t from "tap";
import { startStack } from "../../devkit/in-process-stack.ts";
import { deliveredThrough, TestClient } from "../../devkit/test-client.ts";

t.test("a subscriber that reconnects with its last cursor gets exactly what it missed while publishing goes on", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);
  const channel = "chat.resume";

  let sub = await TestClient.open(stack.notifyWs);
  sub.sendJson({ op: "sub", channel });
  await sub.next((f) => f.op === "subscribed");

  const pub = await TestClient.open(`${stack.ingestWs}?publisher=p`);
  t.teardown(() => pub.close());
  // Publish steadily in the background until the resumed subscription has seen live events.
  let published = 0;
  let stop = false;
  const publishing = (async () => {
    while (!stop) {
      pub.sendJson({ op: "pub", id: `m-${published}`, channel, data: published });
      published++;
      // About 500 a second at most: enough to overlap the switch, without a backlog that
      // grows with machine load.
      if (published % 5 === 0) await new Promise((r) => setTimeout(r, 10));
    }
  })();

  const received: string[] = [];
  await sub.until((fs) => fs.filter((f) => f.op === "event").length >= 150, 20_000, "first events");
  await sub.close();
  for (const f of sub.ofOp("event")) received.push(f.id as string);
  const last = sub.ofOp("event").at(-1)!.cursor as string;
  t.ok(received.length >= 150, `got ${received.length} events before disconnecting`);

  // Stay away while publishing continues, then resume from the last cursor.
  const publishedWhileAway = published;
  await new Promise((r) => setTimeout(r, 100));
  sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel, after: last });
  const subscribed = await sub.next((f) => f.op === "subscribed");
  t.equal(subscribed.cursor, last, "subscribed answers the cursor it resumes after");
  t.ok(published > publishedWhileAway, "events were published while the subscriber was away");
  const publishedAtResume = published;
  await sub.until(
    (fs) => fs.filter((f) => f.op === "event").length >= publishedAtResume - received.length + 100,
    45_000,
    "live events after the resume",
  );
  stop = true;
  await publishing;
  t.ok(
    published >= publishedAtResume + 100,
    "publishing went on across the switch from replay to live",
  );

  await pub.until((fs) => fs.length >= published, 45_000, "all acks");
  t.equal(pub.ofOp("ack").length, published, "every publish acked");
  await sub.until(
    (fs) => received.length + fs.filter((f) => f.op === "event").length >= published,
    45_000,
    "the rest",
  );
  // A marker published last ends the wait: a late duplicate would arrive before it.
  await deliveredThrough((f) => pub.sendJson(f), sub, channel);
  for (const f of sub.events()) received.push(f.id as string);

  const expected = Array.from({ length: published }, (_, i) => `p:m-${i}`);
  t.same(
    received,
    expected,
    `all ${published} events, no gap, no duplicate, in order across the reconnect`,
  );
});

t.test("a cursor from an older epoch (stream recreated) replays the new stream from its start", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);
  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  const pub = await TestClient.open(`${stack.ingestWs}?publisher=p`);
  t.teardown(() => pub.close());
  pub.sendJson({ op: "pub", id: "x1", channel: "c", data: 1 });
  await pub.next((f) => f.op === "ack");
  sub.sendJson({ op: "sub", channel: "c", after: "1-99999" });
  const ev = await sub.next((f) => f.op === "event");
  t.equal(ev.id, "p:x1");
  sub.sendJson({ op: "sub", channel: "c", after: "99999999999999-1" });
  const err = await sub.next((f) => f.op === "error");
  t.equal(err.code, "bad_frame", "a cursor ahead of the stream is refused");
});

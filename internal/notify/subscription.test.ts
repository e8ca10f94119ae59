import t from "tap";
import { MAX_HELD } from "./subscription-catch-up.ts";
import { rig, start } from "./subscription-fakes.ts";
import { EPOCH, until } from "./subscription-stream-fakes.ts";

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

t.test("without a cursor: opening, catching up with nothing to read, live at once", async (t) => {
  const r = rig();
  r.hub.position = 5;
  const sub = r.sub;
  t.equal(sub.phase, "opening");
  await sub.open();
  t.equal(sub.phase, "catchingUpFromStream");
  t.same(r.hub.calls, ["add"], "in the hub before anything is read");
  t.same(r.stream.starts, [], "no consumer of its own: the hub has everything after its position");
  sub.run(() => {});
  t.equal(sub.phase, "live");
  r.hub.offer(6);
  r.hub.offer(7);
  r.hub.offer(7);
  await until(() => r.sink.seqs.length === 2);
  t.same(r.sink.seqs, [6, 7], "a repeated offer is dropped");
  t.same(r.sink.writes, [2], "one write per read from NATS");
  r.hub.offer(8);
  await until(() => r.sink.seqs.length === 3);
  t.same(r.sink.writes, [2, 1]);
});

t.test("an old cursor: PostgreSQL, then the stream, then live, with no gap and no repeat", async (t) => {
  const r = rig({ after: 2, fromStore: true });
  for (const _ of range(1, 8)) r.stream.append();
  r.stream.firstSeq = 5;
  r.store.add(3);
  r.store.add(4);
  r.hub.position = 8;
  r.store.gate.closed = true;
  const sub = await start(r);
  t.equal(sub.phase, "catchingUpFromStore");
  t.same(r.stream.starts, [5], "the consumer waits at the stream's first sequence");
  r.hub.offer(r.stream.append());
  r.store.gate.open();
  await until(() => sub.phase === "live");
  t.same(r.store.calls, ["2..5"], "PostgreSQL up to strictly below the stream's first sequence");
  t.same(r.sink.seqs, range(3, 9), "the held event the consumer read as well goes out once");
  t.equal(r.stream.consumers[0].deleted, true, "the consumer is deleted once caught up");
  r.hub.offer(r.stream.append());
  await until(() => r.sink.seqs.length === 8);
  t.same(r.sink.seqs, range(3, 10));
  t.same(r.ends, []);
});

t.test("a cursor the stream still holds: the stream, then live, held events after", async (t) => {
  const r = rig({ after: 1 });
  for (const _ of range(1, 3)) r.stream.append();
  r.stream.append("chat.other");
  r.hub.position = 4;
  r.stream.gate.closed = true;
  const sub = await start(r);
  t.equal(sub.phase, "catchingUpFromStream");
  r.hub.offer(r.stream.append());
  r.hub.offer(r.stream.append());
  t.same(r.sink.seqs, [], "held while the consumer has not read");
  r.stream.gate.open();
  await until(() => sub.phase === "live");
  t.same(r.sink.seqs, [2, 3, 5, 6]);
});

t.test("live, paused over the pause limit, caught up from the last event once drained", async (t) => {
  const r = rig();
  const sub = await start(r);
  t.equal(sub.phase, "live");
  for (const _ of range(1, 3)) r.stream.append();
  r.sink.results.push("buffered");
  r.sink.drained.closed = true;
  r.hub.offer(1);
  await until(() => sub.phase === "paused");
  t.same(r.hub.calls, ["add", "remove"], "a slow client never holds up the hub");
  r.hub.offer(2);
  t.same(r.sink.seqs, [1], "nothing more while paused");
  r.sink.drained.open();
  await until(() => sub.phase === "live");
  t.same(r.hub.calls, ["add", "remove", "add"]);
  t.same(r.stream.starts, [2], "a consumer of its own from the event after the last one sent");
  t.same(r.sink.seqs, [1, 2, 3]);
});

t.test("live, a gap in the hub: straight back to catching up from the stream", async (t) => {
  const r = rig();
  const sub = await start(r);
  for (const _ of range(1, 3)) r.stream.append();
  r.hub.offer(1);
  await until(() => r.sink.seqs.length === 1);
  r.stream.gate.closed = true;
  r.hub.gap();
  t.equal(sub.phase, "catchingUpFromStream");
  t.same(r.hub.calls, ["add", "remove", "add"], "left and joined again at once");
  r.hub.offer(3);
  r.stream.gate.open();
  await until(() => sub.phase === "live");
  t.same(r.stream.starts, [2]);
  t.same(r.sink.seqs, [1, 2, 3]);
});

t.test("catching up, a gap in the hub: the held events are given up and it reads further", async (t) => {
  const r = rig({ after: 0 });
  r.stream.append();
  r.hub.position = 1;
  r.stream.gate.closed = true;
  const sub = await start(r);
  r.hub.offer(r.stream.append());
  r.hub.gap();
  r.stream.append();
  r.stream.gate.open();
  await until(() => sub.phase === "live");
  t.same(r.sink.seqs, [1, 2, 3]);
  t.same(r.stream.starts, [1, 4], "a second consumer from where the first one got to");
  t.same(r.hub.calls, ["add"], "never out of the hub meanwhile");
});

t.test(`catching up, more than ${MAX_HELD} held: given up, and it reads further`, async (t) => {
  const r = rig({ after: 0 });
  r.hub.position = r.stream.append();
  r.stream.gate.closed = true;
  const sub = await start(r);
  const last = MAX_HELD + 10;
  while (r.stream.lastSeq < last) r.hub.offer(r.stream.append());
  r.stream.gate.open();
  await until(() => sub.phase === "live");
  t.equal(r.sink.seqs.length, last);
  t.same(r.sink.seqs, range(1, last), "every event once, in order");
  t.same(r.stream.starts, [1, last + 1]);
});

t.test("restart replaces the catch-up's consumer at the next sequence", async (t) => {
  const r = rig({ after: 0 });
  for (const _ of range(1, 3)) r.hub.position = r.stream.append();
  r.stream.gate.closed = true;
  const sub = await start(r);
  sub.restart();
  await until(() => r.stream.starts.length === 2);
  t.equal(r.stream.consumers[0].deleted, true);
  t.same(r.stream.starts, [1, 1]);
  r.stream.gate.open();
  await until(() => sub.phase === "live");
  t.same(r.sink.seqs, [1, 2, 3]);
});

t.test("events expired under a resumed subscription are read from PostgreSQL", async (t) => {
  t.test("before the message after them", async (t) => {
    const r = rig({ after: 2 });
    for (const _ of range(1, 6)) r.stream.append();
    r.hub.position = 6;
    r.store.add(3);
    r.store.add(4);
    r.stream.gate.closed = true;
    const sub = await start(r);
    r.stream.firstSeq = 5;
    r.stream.gate.open();
    await until(() => sub.phase === "live");
    t.same(r.store.calls, ["2..5"]);
    t.same(r.sink.seqs, [3, 4, 5, 6]);
  });
  t.test("when the consumer found nothing left", async (t) => {
    const r = rig({ after: 2 });
    for (const _ of range(1, 4)) r.stream.append();
    r.hub.position = 4;
    r.store.add(3);
    r.store.add(4);
    r.stream.firstSeq = 5;
    const sub = await start(r);
    await until(() => sub.phase === "live");
    t.same(r.store.calls, ["2..5"]);
    t.same(r.sink.seqs, [3, 4]);
    r.hub.offer(r.stream.append());
    await until(() => r.sink.seqs.length === 3);
    t.same(r.sink.seqs, [3, 4, 5]);
  });
});

t.test("stop in each phase ends delivery once, out of the hub, its consumer deleted", async (t) => {
  t.test("opening", async (t) => {
    const r = rig();
    r.sub.stop();
    t.equal(r.sub.phase, "stopped");
    t.same(r.hub.calls, []);
    r.sub.run((_, err) => r.ends.push(err));
    t.same(r.ends, [undefined], "run after stop tells the end at once");
  });
  t.test("catching up from PostgreSQL", async (t) => {
    const r = rig({ after: 2, fromStore: true });
    for (const _ of range(1, 6)) r.stream.append();
    r.stream.firstSeq = 5;
    r.store.add(3);
    r.store.gate.closed = true;
    const sub = await start(r);
    sub.stop();
    t.equal(sub.phase, "stopped");
    t.same(r.ends, [undefined]);
    t.same(r.hub.calls, ["add", "remove"]);
    t.equal(r.stream.consumers[0].deleted, true);
    r.store.gate.open();
    await new Promise((r) => setTimeout(r, 20));
    t.same(r.sink.seqs, [], "nothing sent after the stop");
    sub.stop();
    t.same(r.ends, [undefined], "told once");
  });
  t.test("catching up from the stream", async (t) => {
    const r = rig({ after: 0 });
    for (const _ of range(1, 3)) r.hub.position = r.stream.append();
    r.stream.gate.closed = true;
    const sub = await start(r);
    sub.stop();
    t.same(r.ends, [undefined]);
    t.same(r.hub.calls, ["add", "remove"]);
    t.equal(r.stream.consumers[0].deleted, true);
    t.equal(r.stream.consumers[0].messages?.stopped, true);
    r.stream.gate.open();
    await new Promise((r) => setTimeout(r, 20));
    t.same(r.sink.seqs, []);
    t.same(r.stream.starts, [1], "not replaced");
  });
  t.test("live", async (t) => {
    const r = rig();
    const sub = await start(r);
    sub.stop();
    t.same(r.ends, [undefined]);
    t.same(r.hub.calls, ["add", "remove"]);
    r.hub.offer(1);
    sub.flush();
    t.same(r.sink.seqs, []);
  });
  t.test("paused", async (t) => {
    const r = rig();
    const sub = await start(r);
    r.sink.results.push("buffered");
    r.sink.drained.closed = true;
    r.hub.offer(r.stream.append());
    await until(() => sub.phase === "paused");
    sub.stop();
    t.same(r.ends, [undefined]);
    r.sink.drained.open();
    await new Promise((r) => setTimeout(r, 20));
    t.same(r.hub.calls, ["add", "remove"], "does not join again");
    t.same(r.stream.starts, []);
  });
  t.test("while its consumer is being made", async (t) => {
    const r = rig();
    const sub = await start(r);
    r.stream.creation.closed = true;
    r.hub.gap();
    sub.stop();
    r.stream.creation.open();
    await until(() => r.stream.consumers.length === 1);
    await until(() => r.stream.consumers[0].deleted, "the late consumer deleted");
    t.same(r.ends, [undefined]);
  });
  t.test("a live write to a closed connection", async (t) => {
    const r = rig();
    const sub = await start(r);
    r.sink.results.push("closed");
    r.hub.offer(1);
    await until(() => sub.phase === "stopped");
    t.same(r.ends, [undefined]);
  });
});

t.test("a subscription whose epoch is not the hub's reads its own consumer only", async (t) => {
  const r = rig({ after: 0, epoch: EPOCH + 1 });
  for (const _ of range(1, 2)) r.stream.append();
  const sub = await start(r);
  await until(() => r.sink.seqs.length === 2);
  t.equal(sub.phase, "catchingUpFromStream", "never live: the hub's sequences are not its own");
  t.same(r.hub.calls, []);
  r.stream.append();
  await until(() => r.sink.seqs.length === 3);
  sub.stop();
  t.same(r.ends, [undefined]);
});

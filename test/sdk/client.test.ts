import t from "tap";
import WebSocket from "ws";
import { type Ack, type ConnectionState, JetmeshClient, type JetmeshEvent } from "../../sdk/mod.ts";
import { startProcessStack } from "../../devkit/process-stack.ts";

async function waitFor(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test("the SDK publishes and subscribes through kill -9 of notify and of ingest: every event once, in order", async (t) => {
  const stack = await startProcessStack({ NOTIFY_PRESENCE_TTL: "3s" });
  t.teardown(stack.stop);
  const backoff = { initialMs: 100, maxMs: 1000 };
  const alice = new JetmeshClient({
    ingestUrl: stack.ingestWs,
    notifyUrl: stack.notifyWs,
    publisher: "alice",
    WebSocket,
    backoff,
  });
  const bob = new JetmeshClient({ notifyUrl: stack.notifyWs, WebSocket, backoff });
  t.teardown(() => {
    alice.close();
    bob.close();
  });
  const states: ConnectionState[] = [alice.state];
  alice.onState((s) => states.push(s));

  // Bob reads chat.a with a callback and chat.* with an async iterator.
  const byCallback: JetmeshEvent[] = [];
  const direct = bob.subscribe("chat.a", { onEvent: (e) => byCallback.push(e) });
  const pattern = bob.subscribe("chat.*");
  const byIterator: JetmeshEvent[] = [];
  const reading = (async () => {
    for await (const e of pattern) byIterator.push(e);
  })();
  await Promise.all([direct.ready, pattern.ready]);
  await Promise.all([alice.join("chat.a", "alice"), bob.join("chat.a", "bob")]);
  const room = bob.presence("chat.a");
  await room.ready;
  t.same(room.members, ["alice", "bob"], "presence through the SDK");
  t.equal(alice.state, "open", "open once both connections are up");

  const sent = { "chat.a": [] as number[], "chat.b": [] as number[] };
  const acks: Array<Promise<Ack>> = [];
  let stop = false;
  const publishing = (async () => {
    for (let i = 0; !stop; i++) {
      for (const channel of ["chat.a", "chat.b"] as const) {
        sent[channel].push(i);
        acks.push(alice.publish(channel, { i }));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();

  const kills: string[] = [];
  for (const service of ["notify", "ingest"] as const) {
    // Events flowing end to end before each kill.
    const seen = byCallback.length;
    await waitFor("traffic", () => byCallback.length >= seen + 50);
    await stack.kill(service);
    kills.push(service);
    await new Promise((r) => setTimeout(r, 300));
    await stack.start(service);
    await waitFor(`${service} back`, () => alice.state === "open" && bob.state === "open");
  }
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await publishing;
  const settled = await Promise.all(acks);
  t.equal(
    settled.length,
    sent["chat.a"].length + sent["chat.b"].length,
    `every one of ${settled.length} publishes resolved with an ack`,
  );
  t.ok(
    settled.every((a) => typeof a.seq === "number" && typeof a.id === "string"),
    "acks carry id and seq",
  );
  const dups = settled.filter((a) => a.dup).length;
  t.comment(
    `${settled.length} events, kills: ${kills.join(", ")}, ${dups} resends acked as duplicates`,
  );

  const total = sent["chat.a"].length + sent["chat.b"].length;
  await waitFor(
    "everything",
    () => byIterator.length >= total && byCallback.length >= sent["chat.a"].length,
  );
  // One last event per channel ends the wait, not a pause: order per channel makes its
  // arrival proof that everything before it arrived, a late duplicate included.
  const isEnd = (e: JetmeshEvent) => (e.data as { end?: boolean }).end === true;
  await Promise.all([
    alice.publish("chat.a", { end: true }),
    alice.publish("chat.b", { end: true }),
  ]);
  await waitFor(
    "the last events",
    () => byCallback.some(isEnd) && byIterator.filter(isEnd).length === 2,
  );
  const numbers = (es: JetmeshEvent[], channel: string) =>
    es.filter((e) => e.channel === channel && !isEnd(e)).map((e) => (e.data as { i: number }).i);
  t.same(
    numbers(byCallback, "chat.a"),
    sent["chat.a"],
    "callback: chat.a once each, in publish order",
  );
  t.equal(byCallback.length, sent["chat.a"].length + 1, "callback: nothing else but the last");
  t.same(
    numbers(byIterator, "chat.a"),
    sent["chat.a"],
    "iterator over chat.*: chat.a once each, in publish order",
  );
  t.same(
    numbers(byIterator, "chat.b"),
    sent["chat.b"],
    "iterator over chat.*: chat.b once each, in publish order",
  );
  t.equal(byIterator.length, total + 2, "iterator: nothing else but the two last");

  t.equal(states[0], "connecting", "starts connecting");
  t.same(states.slice(1, 2), ["open"], "then open");
  t.equal(states.filter((s) => s === "reconnecting").length, 2, "reconnecting once per kill");
  t.equal(states.at(-1), "open", "open again");
  await waitFor("presence after the restarts", () => room.members.join() === "alice,bob", 10_000);
  t.same(room.members, ["alice", "bob"], "presence is right after the restarts");

  alice.close();
  t.equal(states.at(-1), "closed", "closed after close()");
  await t.rejects(
    alice.publish("chat.a", 1),
    { code: "closed" },
    "publishing after close is refused",
  );
  direct.close();
  pattern.close();
  await reading;
});

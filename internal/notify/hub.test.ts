// The hub's delivery to live subscriptions, with the shared consumer played
// by the test: each event offered once, in stream order, to exact and
// wildcard members; a replaced consumer that hands over sequences already
// offered does not offer them again; a jump in sequences (events left the
// stream unread) is reported to every member as a gap.
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import t, { type Test } from "tap";
import { EVENTS_PREFIX, EVENTS_STREAM } from "../../subjects/mod.ts";
import { deferred, envelope, eventMsg, settle } from "../../test/fakes/jetstream.ts";
import { createLogger } from "../log/mod.ts";
import type { OutEvent } from "./event.ts";
import { Hub, type HubMember } from "./hub.ts";

interface FakeConsumer {
  startSeq: number;
  deliver(m: JsMsg): void;
  stop(): void;
}

/** A bus whose EVENTS consumers the test feeds by hand. */
function fakeBus() {
  const consumers: FakeConsumer[] = [];
  const jsm = {
    streams: {
      info: () =>
        Promise.resolve({
          created: "2026-11-26T00:00:00Z",
          config: { max_age: 0 },
          state: { last_seq: 0, first_seq: 1 },
        }),
    },
  } as unknown as JetStreamManager;
  const js = {
    consumers: {
      get: (_stream: string, opts: { opt_start_seq: number }) =>
        Promise.resolve({
          consume: (o: { callback: (m: JsMsg) => void }) => {
            const closed = deferred<void>();
            const c: FakeConsumer = {
              startSeq: opts.opt_start_seq,
              deliver: o.callback,
              stop: () => closed.resolve(),
            };
            consumers.push(c);
            return Promise.resolve({
              stop: c.stop,
              closed: () => closed.promise,
              status: () => ({
                [Symbol.asyncIterator]: () => ({
                  next: () => closed.promise.then(() => ({ done: true, value: undefined })),
                }),
              }),
            });
          },
        }),
    },
  } as unknown as JetStreamClient;
  return { js, jsm, consumers };
}

class Member implements HubMember {
  readonly got: Array<[string, number]> = [];
  gaps = 0;
  constructor(readonly pattern: string) {}
  offer(ev: OutEvent): void {
    this.got.push([ev.frame.id, ev.seq]);
  }
  flush(): void {}
  gap(): void {
    this.gaps++;
  }
  recreated(): void {}
}

const msg = (seq: number, channel: string) =>
  eventMsg(EVENTS_STREAM, EVENTS_PREFIX, seq, envelope("p", `e${seq}`, channel)).msg;

async function startHub(t: Test) {
  const bus = fakeBus();
  const hub = await Hub.start(
    bus.js,
    bus.jsm,
    createLogger({ svc: "notify" }, { level: "error", sink: () => {} }),
  );
  t.teardown(() => hub.stop());
  return { hub, ...bus };
}

t.test("each event once, in stream order, to exact and wildcard members of its channel", async (t) => {
  const { hub, consumers } = await startHub(t);
  const exact = new Member("chat.a");
  const wild = new Member("chat.*");
  const other = new Member("iot.>");
  for (const m of [exact, wild, other]) hub.add(m);
  t.equal(consumers[0].startSeq, 1, "the consumer starts after the stream's last sequence");
  consumers[0].deliver(msg(1, "chat.a"));
  consumers[0].deliver(msg(2, "chat.b"));
  consumers[0].deliver(msg(3, "chat.a"));
  t.same(exact.got, [["p:e1", 1], ["p:e3", 3]]);
  t.same(wild.got, [["p:e1", 1], ["p:e2", 2], ["p:e3", 3]]);
  t.same(other.got, []);
  t.equal(hub.position, 3);
});

t.test("a replaced consumer's overlap is not offered again", async (t) => {
  const { hub, consumers } = await startHub(t);
  const m = new Member("c");
  hub.add(m);
  for (const seq of [1, 2, 3]) consumers[0].deliver(msg(seq, "c"));
  hub.restart();
  await settle();
  t.equal(consumers.length, 2, "a new consumer");
  t.equal(consumers[1].startSeq, 4, "starting after the last sequence offered");
  // A consumer may hand over from an older floor (a lost ack floor, a racing pull).
  for (const seq of [2, 3, 4]) consumers[1].deliver(msg(seq, "c"));
  t.same(m.got.map(([, seq]) => seq), [1, 2, 3, 4], "2 and 3 once");
  t.equal(m.gaps, 0);
});

t.test("a jump in sequences is a gap for every member", async (t) => {
  const { hub, consumers } = await startHub(t);
  const a = new Member("a");
  const w = new Member(">");
  hub.add(a);
  hub.add(w);
  consumers[0].deliver(msg(1, "a"));
  consumers[0].deliver(msg(2, "b"));
  t.equal(a.gaps + w.gaps, 0, "consecutive: no gap");
  consumers[0].deliver(msg(5, "a"));
  t.equal(a.gaps, 1, "3 and 4 left the stream unread: the exact member is told");
  t.equal(w.gaps, 1, "and the wildcard member");
  t.same(a.got.map(([, seq]) => seq), [1, 5]);
});

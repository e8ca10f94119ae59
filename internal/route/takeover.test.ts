// A partition taken over from a replica that died with events delivered and
// unacked: while the consumer counts more unacked events than this replica
// holds, what it pulls is gathered, not relayed; once the left-overs are in
// hand everything goes out in stream order, the left-overs first. The same after a failed
// pull, from nothing in hand.
import type { Consumer, ConsumerInfo } from "@nats-io/jetstream";
import t from "tap";
import { INGEST_PREFIX, INGEST_STREAM } from "../../subjects/mod.ts";
import { envelope, eventMsg } from "../../test/fakes/jetstream.ts";
import { createLogger } from "../log/mod.ts";
import { Takeover } from "./takeover.ts";

/** A consumer whose info says how many delivered events wait for an ack. */
function consumerWithAckPending(pending: { n: number }): Consumer {
  return {
    info: () => Promise.resolve({ num_ack_pending: pending.n } as ConsumerInfo),
  } as unknown as Consumer;
}

const msg = (seq: number) =>
  eventMsg(INGEST_STREAM, INGEST_PREFIX, seq, envelope("p", `c${seq}`, "room.1")).msg;
const seqs = (ms: Array<{ info: { streamSequence: number } }>) =>
  ms.map((m) => m.info.streamSequence);

function takeover(pending: { n: number }): Takeover {
  return new Takeover({
    consumer: () => consumerWithAckPending(pending),
    log: createLogger({ svc: "route" }, { level: "error", sink: () => {} }),
    name: "route-0",
    ackWaitMs: 1000,
  });
}

t.test("left-overs of the previous holder go out before what came after them", async (t) => {
  // The dead holder left 10 and 11 unacked; this replica's first pull brought 12 and 13.
  const pending = { n: 4 };
  const tk = takeover(pending);
  t.teardown(() => tk.close());
  t.equal(await tk.gained(2), 2, "two events delivered elsewhere and unacked");
  t.same(await tk.take([msg(12), msg(13)]), [], "newer events are held, not relayed");
  pending.n = 5;
  t.same(await tk.take([msg(14)]), [], "still held while a left-over is missing");
  t.same(seqs(await tk.take([msg(11)])), [], "one left-over is not all of them");
  t.same(
    seqs(await tk.take([msg(10)])),
    [10, 11, 12, 13, 14],
    "all in hand: everything in stream order, left-overs first",
  );
  t.same(seqs(await tk.take([msg(15)])), [15], "then batches pass straight through");
});

t.test("a first start with nothing left unacked relays at once", async (t) => {
  const tk = takeover({ n: 3 });
  t.teardown(() => tk.close());
  t.equal(await tk.gained(3), 0, "nothing foreign");
  t.same(seqs(await tk.take([msg(1), msg(2), msg(3)])), [1, 2, 3]);
});

t.test("a left-over delivered twice is relayed once", async (t) => {
  const pending = { n: 2 };
  const tk = takeover(pending);
  t.teardown(() => tk.close());
  t.equal(await tk.gained(1), 1);
  t.same(await tk.take([msg(8)]), []);
  t.same(seqs(await tk.take([msg(7), msg(7)])), [7, 8], "the copy replaces the first");
});

t.test("after a failed pull, redeliveries in the server's order go out in stream order", async (t) => {
  // nats-server redelivers pending messages in its own order: a holder that left 1–5 unacked
  // got them back as 4, 5, 1, 2, 3, then 6. route's reopen gathers from zero in hand.
  const pending = { n: 5 };
  const tk = takeover(pending);
  t.teardown(() => tk.close());
  t.equal(await tk.gained(0, "events delivered before the pull failed are unacked"), 5);
  pending.n = 7;
  t.same(await tk.take([msg(4), msg(5)]), [], "the first redeliveries are held");
  t.same(
    seqs(await tk.take([msg(1), msg(2), msg(3), msg(6), msg(7)])),
    [1, 2, 3, 4, 5, 6, 7],
    "all in hand: stream order",
  );
});

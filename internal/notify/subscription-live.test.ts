import { Registry } from "prom-client";
import t from "tap";
import { createLogger } from "../log/mod.ts";
import { OutEvent } from "./event.ts";
import { notifyMetrics } from "./metrics.ts";
import { Delivery } from "./subscription-delivery.ts";
import { FakeSink } from "./subscription-fakes.ts";
import { envelope, EPOCH } from "./subscription-stream-fakes.ts";
import { LivePhase } from "./subscription-live.ts";

const ev = (seq: number) =>
  OutEvent.fromEnvelope(envelope(seq), { epoch: EPOCH, seq }, {
    subject: "events.chat.room",
    deliveryCount: 1,
  });

t.test("offers queue until the flush, which sends them in one write, held ones first", async (t) => {
  const sink = new FakeSink();
  const deps = {
    log: createLogger({}, { sink: () => {} }),
    metrics: notifyMetrics(new Registry()),
  };
  const d = new Delivery(deps, "chat.room", "json", sink, 1);
  const live = new LivePhase([ev(1)]);
  t.equal(live.queue(ev(2)), false, "held events are queued already: a flush is due anyway");
  t.equal(live.flush(d), "sent");
  t.same(sink.seqs, [1, 2]);
  t.equal(live.flush(d), undefined, "nothing queued, nothing sent");
  t.equal(live.queue(ev(3)), true, "the first offer after a flush asks for one");
  t.equal(live.queue(ev(4)), false);
  sink.results.push("buffered");
  t.equal(live.flush(d), "buffered", "the subscription learns that its socket is over the limit");
  t.same(sink.writes, [2, 2]);
});

import t from "tap";
import { natsOpsLine, type NatsOpsSnapshot, perEvent } from "./nats-ops.ts";

const snap = (o: Partial<NatsOpsSnapshot>): NatsOpsSnapshot => ({
  inMsgs: 0,
  outMsgs: 0,
  api: 0,
  stored: {},
  delivered: {},
  acked: {},
  ...o,
});

t.test("per event: the window's growth of each counter divided by its events", async (t) => {
  const a = snap({
    inMsgs: 100,
    outMsgs: 50,
    stored: { INGEST: 10, EVENTS: 10, DLQ: 3 },
    delivered: { "INGEST/route-*": 10 },
    acked: { "INGEST/route-*": 8 },
  });
  const b = snap({
    inMsgs: 700,
    outMsgs: 750,
    api: 4,
    stored: { INGEST: 110, EVENTS: 110, DLQ: 3, KV_jetmesh_seen: 100 },
    delivered: { "INGEST/route-*": 110 },
    acked: { "INGEST/route-*": 108 },
  });
  const p = perEvent(a, b, 100);
  t.same(p.stored, { INGEST: 1, EVENTS: 1, KV_jetmesh_seen: 1 }, "idle streams left out");
  t.same(p.delivered, { "INGEST/route-*": 1 });
  t.equal(p.msgsIn, 6);
  t.equal(p.msgsOut, 7);
  t.equal(p.apiRequests, 0.04);
  t.match(
    natsOpsLine(p),
    /stream stores 3\.00 \(EVENTS 1\.00, INGEST 1\.00, KV_jetmesh_seen 1\.00\)/,
  );
});

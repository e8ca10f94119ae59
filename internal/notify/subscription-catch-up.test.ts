import t from "tap";
import { OutEvent } from "./event.ts";
import { CatchUp, type CatchUpHost, MAX_HELD } from "./subscription-catch-up.ts";
import { envelope, EPOCH } from "./subscription-stream-fakes.ts";

const ev = (seq: number) => OutEvent.fromEnvelope(envelope(seq), { epoch: EPOCH, seq });

// Holding reads nothing of the host; reading the stream is covered in subscription.test.ts.
const catchUp = () => new CatchUp({} as CatchUpHost, false, undefined);

t.test("the hub's offers are held in order until the catch-up reaches them", async (t) => {
  const c = catchUp();
  t.equal(c.held, undefined, "nothing made before the first offer");
  t.equal(c.reading, false, "no consumer before open");
  c.hold(ev(1));
  c.hold(ev(2));
  t.same(c.held?.map((e) => e.seq), [1, 2]);
  t.equal(c.heldComplete, true);
});

t.test(`past ${MAX_HELD} held events, or after a gap, they are given up`, async (t) => {
  const c = catchUp();
  for (let seq = 1; seq <= MAX_HELD; seq++) c.hold(ev(seq));
  t.equal(c.heldComplete, true);
  c.hold(ev(MAX_HELD + 1));
  t.equal(c.heldComplete, false);
  t.equal(c.held, undefined, "dropped rather than kept growing");
  c.hold(ev(MAX_HELD + 2));
  t.equal(c.held, undefined, "and nothing held after");
  const gapped = catchUp();
  gapped.hold(ev(1));
  gapped.giveUp();
  t.equal(gapped.heldComplete, false);
  t.equal(gapped.held, undefined);
});

import t from "tap";
import { errorCode, retryAfterMs } from "../errors/mod.ts";
import { COOLDOWN_MS, MAX_REFUSALS_PER_SECOND, RateAbuse, type Refusals } from "./abuse.ts";

t.test("a connection refused past the threshold within a second is closed and its caller cools down", async (t) => {
  let now = 1_000_000;
  const abuse = new RateAbuse(() => now);
  const r: Refusals = { since: now, count: 0 };
  let closed = 0;
  for (let i = 0; i < MAX_REFUSALS_PER_SECOND; i++) if (abuse.refused(r, "sub:x")) closed++;
  t.equal(closed, 0, "up to the threshold");
  abuse.check("sub:x");
  t.ok(abuse.refused(r, "sub:x"), "one more closes it");
  const err = (() => {
    try {
      abuse.check("sub:x");
    } catch (e) {
      return e;
    }
  })();
  t.equal(errorCode(err), "rate_limited");
  t.equal(retryAfterMs(err), COOLDOWN_MS);
  abuse.check("sub:y");
  now += COOLDOWN_MS;
  abuse.check("sub:x");
});

t.test("refusals spread over seconds never close", async (t) => {
  let now = 0;
  const abuse = new RateAbuse(() => now);
  const r: Refusals = { since: now, count: 0 };
  let closed = 0;
  for (let s = 0; s < 5; s++) {
    for (let i = 0; i < MAX_REFUSALS_PER_SECOND; i++) if (abuse.refused(r, "a")) closed++;
    now += 1000;
  }
  t.equal(closed, 0);
});

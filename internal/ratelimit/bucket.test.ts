import t from "tap";
import { errorCode, retryAfterMs } from "../errors/mod.ts";
import { RateLimiter } from "./bucket.ts";

t.test("a burst passes, the next take is refused with a retry hint, refill lets it through", async (t) => {
  let now = 1_000_000;
  const rl = new RateLimiter(10, () => now);
  const rate = { perSecond: 10, burst: 3 };
  for (let i = 0; i < 3; i++) rl.take("a", rate, "publish");
  const err = (() => {
    try {
      rl.take("a", rate, "publish");
    } catch (e) {
      return e;
    }
  })();
  t.equal(errorCode(err), "rate_limited");
  t.equal(retryAfterMs(err), 100, "one token at 10/s: 100 ms");
  rl.take("b", rate, "publish");
  now += 100;
  rl.take("a", rate, "publish");
  t.throws(() => rl.take("a", rate, "publish"), "refilled one token only");
  now += 10_000;
  for (let i = 0; i < 3; i++) rl.take("a", rate, "publish");
  t.throws(() => rl.take("a", rate, "publish"), "refill stops at the burst");
});

t.test("the map of keys stays bounded", async (t) => {
  let now = 0;
  const rl = new RateLimiter(100, () => now);
  const rate = { perSecond: 1, burst: 2 };
  for (let i = 0; i < 10_000; i++) {
    rl.take(`k${i}`, rate, "x");
    now += 1;
  }
  t.ok(rl.size <= 100, `size ${rl.size}`);
});

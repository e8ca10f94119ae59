import t from "tap";
import { anonymous, type Identity } from "../auth/mod.ts";
import {
  CLOSE_TOKEN_EXPIRED,
  EXPIRY_SLOT_MS,
  TOKEN_EXPIRED_REASON,
  watchExpiry,
} from "./expiry.ts";

const expiringIn = (ms: number): Identity => ({
  sub: "alice",
  expiresAt: Date.now() + ms,
  publish: [],
  subscribe: [],
  claims: {},
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("close code and reason", async (t) => {
  t.equal(CLOSE_TOKEN_EXPIRED, 4001);
  t.equal(TOKEN_EXPIRED_REASON, "token expired");
});

t.test("fires once the token expires, not before", async (t) => {
  let fired = 0;
  const start = Date.now();
  let at = 0;
  watchExpiry(expiringIn(150), () => {
    fired++;
    at = Date.now() - start;
  });
  await sleep(50);
  t.equal(fired, 0, "not yet");
  await sleep(150 + EXPIRY_SLOT_MS + 100);
  t.equal(fired, 1, "once");
  t.ok(at >= 150, `after ${at} ms, not before the expiry`);
  t.ok(at <= 150 + EXPIRY_SLOT_MS + 50, `after ${at} ms, within a slot of it`);
});

t.test("many watches share the timer; each fires once, in expiry order, and a cancelled one never", async (t) => {
  const order: number[] = [];
  const watches = [600, 100, 350, 100].map((ms, i) =>
    watchExpiry(expiringIn(ms), () => order.push(i))
  );
  watches[2].cancel();
  await sleep(600 + EXPIRY_SLOT_MS + 150);
  t.same(order.slice(0, 2).sort(), [1, 3], "the two earliest first");
  t.same(order.slice(2), [0], "then the last; the cancelled one never");
});

t.test("an already expired token fires at once", async (t) => {
  let fired = 0;
  watchExpiry(expiringIn(-1000), () => fired++);
  t.equal(fired, 1);
});

t.test("cancel stops it; an anonymous caller never expires", async (t) => {
  let fired = 0;
  watchExpiry(expiringIn(50), () => fired++).cancel();
  watchExpiry(anonymous(), () => fired++);
  await sleep(150);
  t.equal(fired, 0);
});

t.test("a far expiry (beyond setTimeout's 2^31-1 ms) does not fire early", async (t) => {
  let fired = 0;
  const w = watchExpiry(expiringIn(40 * 86_400_000), () => fired++);
  await sleep(50);
  t.equal(fired, 0, "Node would fire an over-long timeout after 1 ms");
  w.cancel();
});

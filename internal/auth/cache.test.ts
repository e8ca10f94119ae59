import t from "tap";
import { VerifiedTokens } from "./cache.ts";
import type { Identity } from "./identity.ts";

const id = (expiresAt: number): Identity => ({
  sub: "alice",
  expiresAt,
  publish: [],
  subscribe: [],
  claims: {},
});

t.test("a verified token is served until it expires or the entry is too old", async (t) => {
  const c = new VerifiedTokens(10, 1000);
  const now = 1_000_000;
  const alice = id(now + 500);
  c.set("a", alice, now);
  t.equal(c.get("a", now + 499), alice, "the same Identity, shared");
  t.equal(c.get("a", now + 500), undefined, "gone at its expiry");
  c.set("b", id(now + 10_000), now);
  t.ok(c.get("b", now + 999));
  t.equal(c.get("b", now + 1000), undefined, "re-verified after maxAge");
  t.equal(c.get("never", now), undefined);
});

t.test("bounded", async (t) => {
  const c = new VerifiedTokens(100, 60_000);
  for (let i = 0; i < 1000; i++) c.set(`t${i}`, id(Date.now() + 60_000));
  t.ok(c.size <= 100, `size ${c.size}`);
  t.ok(c.get("t999"), "the newest stays");
});

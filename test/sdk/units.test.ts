import t from "tap";
import { backoffDelay } from "../../sdk/backoff.ts";
import { compareCursors } from "../../sdk/mod.ts";
import { PresenceWatch } from "../../sdk/presence.ts";
import { Subscription } from "../../sdk/subscription.ts";
import { readClaims, refreshDelay } from "../../sdk/token.ts";
import { compareCursors as serverCompare, parseCursor } from "../../subjects/mod.ts";

t.test("backoff doubles up to the cap, with jitter in the upper half", async (t) => {
  for (let attempt = 0; attempt < 12; attempt++) {
    const ceiling = Math.min(10_000, 250 * 2 ** attempt);
    const delays = Array.from({ length: 50 }, () => backoffDelay(attempt));
    t.ok(
      delays.every((d) => d >= ceiling / 2 && d <= ceiling),
      `attempt ${attempt}: within [${ceiling / 2}, ${ceiling}] ms`,
    );
    t.ok(new Set(delays).size > 40, `attempt ${attempt}: jittered`);
  }
  t.ok(backoffDelay(3, { initialMs: 10, maxMs: 50 }) <= 50, "options apply");
});

t.test("cursors compare as the server orders them", async (t) => {
  const cursors = ["1-5", "1-40", "2-1", "0-0", "1764000000000-3", "1764000000000-12"];
  for (const a of cursors) {
    for (const b of cursors) {
      t.equal(
        Math.sign(compareCursors(a, b)),
        Math.sign(serverCompare(parseCursor(a)!, parseCursor(b)!)),
        `${a} vs ${b}`,
      );
    }
  }
});

const ev = (cursor: string, id = cursor) => ({ channel: "c", cursor, id, ts: 0, data: null });

t.test("a subscription drops what is not after its cursor and feeds callbacks and iterators", async (t) => {
  let unsubscribed = 0;
  const sub = new Subscription("c", "1-5", () => unsubscribed++);
  const seen: string[] = [];
  sub.onEvent((e) => seen.push(e.cursor));
  const it = sub[Symbol.asyncIterator]();
  sub.started("1-99");
  t.equal(sub.cursor, "1-5", "a resubscribe does not move a cursor the subscription already has");
  for (const c of ["1-4", "1-5", "1-6", "1-6", "1-8", "1-7", "2-1"]) sub.deliver(ev(c));
  t.same(seen, ["1-6", "1-8", "2-1"], "at or before the last cursor is dropped");
  t.equal(sub.cursor, "2-1");
  t.same((await it.next()).value?.cursor, "1-6");
  t.same((await it.next()).value?.cursor, "1-8");
  t.same((await it.next()).value?.cursor, "2-1");
  const pending = it.next();
  sub.close();
  t.same(await pending, { done: true, value: undefined }, "close ends the iterator");
  t.equal(unsubscribed, 1);
  await sub.ready;

  const fresh = new Subscription("d", undefined, () => {});
  fresh.started("3-7");
  t.equal(fresh.cursor, "3-7", "without after, the first confirmation sets where to resume");
});

t.test("events that arrive before anyone reads are kept for the first reader", async (t) => {
  const sub = new Subscription("c", undefined, () => {});
  sub.started("1-0");
  sub.deliver(ev("1-1"));
  sub.deliver(ev("1-2"));
  const it = sub[Symbol.asyncIterator]();
  sub.deliver(ev("1-3"));
  const got = [
    (await it.next()).value?.cursor,
    (await it.next()).value?.cursor,
    (await it.next()).value?.cursor,
  ];
  t.same(got, ["1-1", "1-2", "1-3"]);
  const late: string[] = [];
  sub.onEvent((e) => late.push(e.cursor));
  t.same(late, [], "held events went to the first reader only");
  const other = new Subscription("d", undefined, () => {});
  other.started("1-0");
  other.deliver(ev("1-1"));
  const seen: string[] = [];
  other.onEvent((e) => seen.push(e.cursor));
  t.same(seen, ["1-1"], "a callback registered later gets them too");
});

t.test("a refused subscription rejects ready, throws in iterators and calls onError", async (t) => {
  const sub = new Subscription("c", undefined, () => {});
  const errors: string[] = [];
  sub.onError((e) => errors.push(e.message));
  const it = sub[Symbol.asyncIterator]();
  const next = it.next();
  sub.fail(new Error("limit"));
  await t.rejects(next, /limit/);
  await t.rejects(sub.ready, /limit/);
  t.same(errors, ["limit"]);
});

t.test("a presence watch follows lists and changes", async (t) => {
  const w = new PresenceWatch("room", () => {});
  const calls: Array<[string[], string | undefined]> = [];
  w.onChange((members, change) =>
    calls.push([members, change && `${change.type}:${change.member}`])
  );
  w.reset(["bob", "alice"]);
  w.apply({ type: "join", member: "carol" });
  w.apply({ type: "join", member: "carol" });
  w.apply({ type: "leave", member: "bob" });
  w.reset(["alice", "carol"]);
  t.same(calls, [
    [["alice", "bob"], undefined],
    [["alice", "bob", "carol"], "join:carol"],
    [["alice", "carol"], "leave:bob"],
  ], "no call when nothing changed");
  await w.ready;
});

/** An unsigned JWT with these claims: the client only reads them. */
const jwt = (claims: Record<string, unknown>) =>
  `e30.${
    btoa(JSON.stringify(claims)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")
  }.sig`;

t.test("a token is renewed at 80 % of what is left or 30 s before expiry, never before half of it", async (t) => {
  const now = 1_800_000_000_000;
  const s = now / 1000;
  t.same(
    readClaims(jwt({ exp: s + 60, iat: s, sub: "ü?>" })),
    { exp: s + 60, iat: s },
    "base64url payload read without verifying",
  );
  t.same(readClaims("not a jwt"), {}, "anything else has no claims");
  t.equal(
    refreshDelay(jwt({ exp: s + 3600, iat: s }), now),
    2880_000,
    "an hour: at 80 %, earlier than 30 s before expiry",
  );
  t.equal(
    refreshDelay(jwt({ exp: s + 100, iat: s }), now),
    70_000,
    "100 s: 30 s before expiry, earlier than 80 %",
  );
  t.equal(refreshDelay(jwt({ exp: s + 3, iat: s }), now), 1500, "3 s: at half, not in a loop");
  t.equal(refreshDelay(jwt({ exp: s + 3600 }), now), 2880_000, "no iat: from the client's clock");
  t.equal(refreshDelay(jwt({ sub: "x" }), now), undefined, "no exp: never");
  // The client's clock is off; the token's own lifetime bounds the estimate.
  t.equal(
    refreshDelay(jwt({ exp: s + 3, iat: s }), now - 60_000),
    1500,
    "client clock a minute behind: still half of the 3 s lifetime",
  );
  t.equal(
    refreshDelay(jwt({ exp: s + 3, iat: s }), now + 60_000),
    1500,
    "client clock a minute ahead (exp seemingly past): the lifetime",
  );
  t.equal(
    refreshDelay(jwt({ exp: s + 100, iat: s - 50 }), now),
    70_000,
    "a token handed over late: from what is left, 100 s of 150",
  );
  t.equal(
    refreshDelay(jwt({ exp: s - 5 }), now),
    1000,
    "expired without iat: a second, then the server decides",
  );
});

import t from "tap";
import type { Subscription } from "./subscription.ts";
import { Subscriptions } from "./connection-subscriptions.ts";

// Only identity matters to the collection.
const sub = (name: string) => ({ pattern: name }) as unknown as Subscription;

t.test("one subscription is kept inline, more go to a map, and every operation sees both", async (t) => {
  const subs = new Subscriptions<Subscription>();
  const a = sub("a"), b = sub("b"), c = sub("c"), a2 = sub("a2");
  t.equal(subs.size, 0);
  t.equal(subs.get("a"), undefined);
  subs.set("a", a);
  subs.set("b", b);
  subs.set("c", c);
  t.equal(subs.size, 3);
  t.same([...subs.values()], [a, b, c]);
  subs.set("a", a2);
  t.equal(subs.get("a"), a2, "a re-subscribe replaces in place");
  t.equal(subs.size, 3);
  t.equal(subs.delete("a"), true);
  t.equal(subs.delete("a"), false);
  t.equal(subs.get("a"), undefined);
  t.equal(subs.size, 2);
  subs.set("b", a);
  t.equal(subs.get("b"), a, "a channel moving from the map to the free inline slot is stored once");
  t.equal(subs.size, 2);
  t.same([...subs.values()], [a, c]);
  t.equal(subs.delete("c"), true);
  t.equal(subs.delete("nope"), false);
  t.same([...subs.values()], [a]);
  subs.clear();
  t.equal(subs.size, 0);
  t.same([...subs.values()], []);
});

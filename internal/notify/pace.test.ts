import t from "tap";
import { JetmeshError } from "../errors/mod.ts";
import { Pace } from "./pace.ts";

t.test("a first event older than maxAge is refused with limit_exceeded naming the namespace and its max age", async (t) => {
  const now = 10_000_000;
  const pace = new Pace({ maxAgeMs: 3_600_000, eventsPerSecond: 100 }, "chat", () => now);
  t.throws(
    () => pace.next(now - 3_600_001),
    new JetmeshError(
      "limit_exceeded",
      "the cursor is older than namespace chat replays (1h); subscribe without a cursor, or page older events from GET /v1/history",
    ),
  );
  t.equal(pace.next(now - 3_599_000), 0, "a younger one passes");
  t.equal(
    pace.next(now - 4_000_000),
    0,
    "only the first event's age is checked: the rest follow it",
  );
});

t.test("events beyond one second's worth wait for their turn", async (t) => {
  let now = 0;
  const pace = new Pace({ maxAgeMs: 60_000, eventsPerSecond: 10 }, "n", () => now);
  const waits = Array.from({ length: 15 }, () => pace.next(0));
  t.same(waits.slice(0, 10), Array(10).fill(0), "the first second's worth goes at once");
  t.same(
    waits.slice(10),
    [0, 100, 200, 300, 400],
    "then one per 100 ms, waits under 20 ms saved up",
  );
  now = 5000;
  t.equal(pace.next(0), 0, "a subscription that kept the pace does not wait");
});

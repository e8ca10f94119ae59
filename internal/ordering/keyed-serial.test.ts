import t from "tap";
import { KeyedSerial } from "./keyed-serial.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test("one at a time per key, in order, even after a failure; keys run concurrently", async (t) => {
  const q = new KeyedSerial();
  const log: string[] = [];
  let running = 0;
  let maxRunningA = 0;
  const task = (key: string, i: number, ms: number, fail = false) =>
    q.run(key, async () => {
      if (key === "a") maxRunningA = Math.max(maxRunningA, ++running);
      await tick(ms);
      if (key === "a") running--;
      log.push(`${key}${i}`);
      if (fail) throw new Error("boom");
    });
  const results = await Promise.allSettled([
    task("a", 1, 30),
    task("a", 2, 1, true),
    task("a", 3, 1),
    task("b", 1, 5),
  ]);
  t.same(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "fulfilled"]);
  t.equal(maxRunningA, 1, "never two tasks of one key at once");
  t.same(
    log.filter((x) => x.startsWith("a")),
    ["a1", "a2", "a3"],
    "submission order kept across a failure",
  );
  t.ok(log.indexOf("b1") < log.indexOf("a1"), "another key is not held up");
  await q.idle();
  t.equal(q.size, 0, "keys are forgotten when idle");
});

import t from "tap";
import { EnvReader, parseDuration } from "./env.ts";

t.test("durations", async (t) => {
  t.equal(parseDuration("500ms"), 500);
  t.equal(parseDuration("30s"), 30_000);
  t.equal(parseDuration("2m"), 120_000);
  t.equal(parseDuration("24h"), 86_400_000);
  t.equal(parseDuration("7d"), 604_800_000);
  t.equal(parseDuration("1.5s"), 1500);
  t.equal(parseDuration("250"), 250);
  t.equal(parseDuration("soon"), undefined);
});

t.test("every bad variable is reported at once with what was expected", async (t) => {
  const r = new EnvReader({ A: "x", B: "-3", C: "2 weeks", D: "purple", E: "  " });
  t.equal(r.int("A", 1), 1);
  t.equal(r.int("B", 1, 0, 10), 1);
  t.equal(r.durationMs("C", "1s"), 1000);
  t.equal(r.oneOf("D", "red", ["red", "blue"]), "red");
  t.equal(r.string("E", "fallback"), "fallback", "blank counts as unset");
  t.throws(() => r.done(), {
    code: "bad_config",
    message: /A="x".*B="-3".*C="2 weeks".*D="purple"/,
  });
  const ok = new EnvReader({ N: "7" });
  t.equal(ok.int("N", 1), 7);
  t.doesNotThrow(() => ok.done());
});

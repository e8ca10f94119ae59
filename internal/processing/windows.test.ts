import t from "tap";
import { windowStarts } from "./windows.ts";

t.test("tumbling: one window aligned to the epoch", async (t) => {
  t.same(windowStarts(12_345, 10_000, 10_000), [10_000]);
  t.same(windowStarts(10_000, 10_000, 10_000), [10_000], "the start belongs to the window");
  t.same(windowStarts(9_999, 10_000, 10_000), [0], "the end does not");
  t.same(windowStarts(-1, 10_000, 10_000), [-10_000], "before the epoch");
});

t.test("hopping: size / hop windows, oldest first", async (t) => {
  t.same(windowStarts(65_000, 60_000, 10_000), [10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
  t.same(windowStarts(60_000, 60_000, 10_000), [10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
  t.same(windowStarts(5_000, 15_000, 10_000), [0], "5000 is outside [-10000, 5000)");
});

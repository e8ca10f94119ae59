import t from "tap";
import { percentile } from "./digest.ts";

/** Nearest-rank percentile of the exact sorted values. */
function exact(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}

t.test("empty: no percentile", async (t) => {
  t.equal(percentile([], 0.5), undefined);
});

t.test("close to the exact percentile, the same whatever the order", async (t) => {
  const values = Array.from({ length: 20_000 }, (_, i) => ((i * 7919) % 10_007) / 10);
  const reversed = [...values].reverse();
  for (const p of [0.5, 0.9, 0.95, 0.99]) {
    const got = percentile(values, p)!;
    t.equal(got, percentile(reversed, p), `p${p * 100} independent of order`);
    t.ok(
      Math.abs(got - exact(values, p)) <= 0.01 * 1000,
      `p${p * 100} ${got} ~ ${exact(values, p)}`,
    );
  }
});

t.test("compression is deterministic (no Math.random)", async (t) => {
  const random = Math.random;
  Math.random = () => {
    throw new Error("Math.random used");
  };
  try {
    const values = Array.from({ length: 6000 }, (_, i) => i);
    t.equal(percentile(values, 0.5), percentile(values, 0.5));
  } finally {
    Math.random = random;
  }
});

/**
 * A seeded PRNG for the chaos schedule, so a failing run can be replayed with
 * FAULT_SEED=<n>. Only the schedule comes from it: the load's own timing (and
 * so where exactly a kill lands) still varies between runs.
 */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** mulberry32: a uniform float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)];
  }

  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

/**
 * FAULT_SEED from the environment, else a fresh one; printed either way so the run can be
 * replayed.
 */
export function faultSeed(label: string): number {
  const given = process.env.FAULT_SEED;
  let seed: number;
  if (given !== undefined && given !== "") {
    seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`FAULT_SEED must be an integer from 0 to 4294967295, got ${given}`);
    }
  } else {
    seed = Math.floor(Math.random() * 0xffffffff);
  }
  console.log(`FAULT_SEED=${seed} (${label}; replay with FAULT_SEED=${seed} make test-faults)`);
  return seed;
}

import { setTimeout as sleep } from "node:timers/promises";
import v8 from "node:v8";
import vm from "node:vm";

/**
 * tap starts test processes without --expose-gc; setting the flag at run time
 * exposes gc() to contexts created afterwards, so the test can collect before
 * it measures instead of comparing whatever garbage happens to be around.
 */
function collector(): () => void {
  const own = (globalThis as { gc?: () => void }).gc;
  if (own) return own;
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

const gc = collector();

export interface MemorySample {
  heapUsed: number;
  rss: number;
}

/** Heap in use after the pending work settled and full collections ran. */
export async function settledMemory(settleMs: number): Promise<MemorySample> {
  await sleep(settleMs);
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(50);
  }
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Interleaved measurement: jetmesh and its reference take turns in short
 * slices instead of one long window each, so a change in the machine's load
 * from other users falls on both alike. Each target keeps its connections
 * open for the whole phase; only the sending alternates.
 */
import type { BenchOptions } from "../options.ts";
import { type CpuUsage, type Snapshot, snapshot, usageOver } from "../sampler.ts";
import type { Worker } from "../worker.ts";
import { waitShowing } from "./context.ts";

export interface SliceTarget<C> {
  name: string;
  pids: Record<string, number>;
  /** Starts sending. */
  start(): Promise<unknown>;
  /** Called when a measured slice begins, after the warm-up. */
  begin?(): Promise<unknown>;
  /** The target's counters now; called at the start and the end of each measured slice. */
  read(): Promise<C>;
  /** Stops sending and lets what was sent arrive, so the next slice starts on an idle pipeline. */
  stop(): Promise<unknown>;
  /** One progress line. */
  status(what: string): Promise<string>;
}

export interface Sliced<C> {
  /** Counters at the start and the end of each measured slice. */
  windows: Array<[C, C]>;
  ms: number;
  cpu: CpuUsage;
}

export interface SliceOptions {
  rounds: number;
  /** Warm-up before the first slice of each target, and before every later one. */
  firstWarmupMs: number;
  warmupMs: number;
  sliceMs: number;
}

/** The bench's slicing: `rounds` slices sharing `durationSec`, the first after the full warm-up. */
export function sliceOptions(
  opts: Pick<BenchOptions, "rounds" | "warmupSec" | "durationSec">,
): SliceOptions {
  return {
    rounds: opts.rounds,
    firstWarmupMs: opts.warmupSec * 1000,
    warmupMs: 500,
    sliceMs: (opts.durationSec * 1000) / opts.rounds,
  };
}

export async function interleave<C>(
  targets: SliceTarget<C>[],
  o: SliceOptions,
): Promise<Map<string, Sliced<C>>> {
  const out = new Map<string, { windows: Array<[C, C]>; snaps: Array<[Snapshot, Snapshot]> }>();
  for (const t of targets) out.set(t.name, { windows: [], snaps: [] });
  for (let round = 0; round < o.rounds; round++) {
    for (const t of targets) {
      const r = out.get(t.name)!;
      await t.start();
      await waitShowing(
        round === 0 ? o.firstWarmupMs : o.warmupMs,
        () => t.status(`warm-up (${round + 1}/${o.rounds})`),
      );
      await t.begin?.();
      const c0 = await t.read();
      const s0 = snapshot(t.pids);
      await waitShowing(o.sliceMs, () => t.status(`slice ${round + 1}/${o.rounds}`));
      const s1 = snapshot(t.pids);
      const c1 = await t.read();
      await t.stop();
      r.windows.push([c0, c1]);
      r.snaps.push([s0, s1]);
    }
  }
  return new Map([...out].map(([name, r]) => [name, {
    windows: r.windows,
    ms: r.snaps.reduce((a, [s0, s1]) => a + s1.t - s0.t, 0),
    cpu: usageOver(r.snaps),
  }]));
}

/** Sum of `after - before` of one counter over all slices. */
export function delta<C>(s: Sliced<C>, pick: (c: C) => number): number {
  return s.windows.reduce((a, [c0, c1]) => a + pick(c1) - pick(c0), 0);
}

/**
 * A target driven by the loadgen worker under `name`: `run` starts its
 * sending; a stop halts it and waits up to 10 s for what was sent to arrive.
 */
export function loadgenTarget<C>(
  lg: Worker,
  name: string,
  pids: Record<string, number>,
  run: () => Promise<unknown>,
  describe: (c: C, what: string) => string,
): SliceTarget<C> {
  return {
    name,
    pids,
    start: run,
    read: () => lg.call<C>("counts", { name }),
    stop: async () => {
      await lg.call("halt", { name });
      await lg.call("drain", { name, timeoutMs: 10_000 });
    },
    status: async (what) => describe(await lg.call<C>("counts", { name }), what),
  };
}

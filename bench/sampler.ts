/** CPU used by the processes of a phase, and by the whole machine, between two snapshots. */
import { load1, machineTicks, processSyscalls, processTicks, TICKS_PER_SEC } from "./proc.ts";
import { cpuShare } from "./stats.ts";

export interface Snapshot {
  t: number;
  ticks: Record<string, number | undefined>;
  syscalls: Record<string, number | undefined>;
  machine: { busy: number; total: number };
  load1: number;
}

export interface CpuUsage {
  /** Cores each process used on average (1 = one core busy the whole window). */
  cores: Record<string, number>;
  /** Read and write syscalls per second of each process (absent in results from before them). */
  syscallsPerSec?: Record<string, number>;
  /** Share of all the machine's CPUs that were busy, with every other user's load. */
  machineBusy: number;
  load1: [number, number];
}

export function snapshot(pids: Record<string, number>): Snapshot {
  const ticks: Record<string, number | undefined> = {};
  const syscalls: Record<string, number | undefined> = {};
  for (const [name, pid] of Object.entries(pids)) {
    ticks[name] = processTicks(pid);
    syscalls[name] = processSyscalls(pid);
  }
  return { t: performance.now(), ticks, syscalls, machine: machineTicks(), load1: load1() };
}

export function usage(a: Snapshot, b: Snapshot): CpuUsage {
  return usageOver([[a, b]]);
}

/** Usage over several windows taken together (the slices of an interleaved measurement). */
export function usageOver(windows: Array<[Snapshot, Snapshot]>): CpuUsage {
  let ms = 0;
  let busy = 0;
  let total = 0;
  const ticks: Record<string, number> = {};
  const calls: Record<string, number> = {};
  for (const [a, b] of windows) {
    ms += b.t - a.t;
    busy += b.machine.busy - a.machine.busy;
    total += b.machine.total - a.machine.total;
    for (const [name, before] of Object.entries(a.ticks)) {
      const after = b.ticks[name];
      if (before !== undefined && after !== undefined) {
        ticks[name] = (ticks[name] ?? 0) + after - before;
      }
    }
    for (const [name, before] of Object.entries(a.syscalls)) {
      const after = b.syscalls[name];
      if (before !== undefined && after !== undefined) {
        calls[name] = (calls[name] ?? 0) + after - before;
      }
    }
  }
  const cores: Record<string, number> = {};
  for (const [name, t] of Object.entries(ticks)) {
    cores[name] = Math.round(cpuShare(0, t, TICKS_PER_SEC, ms) * 100) / 100;
  }
  const syscallsPerSec: Record<string, number> = {};
  for (const [name, n] of Object.entries(calls)) {
    syscallsPerSec[name] = ms > 0 ? (n * 1000) / ms : 0;
  }
  const machineBusy = total > 0 ? Math.round((busy / total) * 100) / 100 : 0;
  const first = windows[0];
  const last = windows[windows.length - 1];
  return {
    cores,
    syscallsPerSec,
    machineBusy,
    load1: [first?.[0].load1 ?? NaN, last?.[1].load1 ?? NaN],
  };
}

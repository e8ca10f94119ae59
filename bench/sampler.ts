/** CPU used by the processes of a phase, and by the whole machine, between two snapshots. */
import { load1, machineTicks, processTicks, TICKS_PER_SEC } from "./proc.ts";
import { cpuShare } from "./stats.ts";

export interface Snapshot {
  t: number;
  ticks: Record<string, number | undefined>;
  machine: { busy: number; total: number };
  load1: number;
}

export interface CpuUsage {
  /** Cores each process used on average (1 = one core busy the whole window). */
  cores: Record<string, number>;
  /** Share of all the machine's CPUs that were busy, with every other user's load. */
  machineBusy: number;
  load1: [number, number];
}

export function snapshot(pids: Record<string, number>): Snapshot {
  const ticks: Record<string, number | undefined> = {};
  for (const [name, pid] of Object.entries(pids)) ticks[name] = processTicks(pid);
  return { t: performance.now(), ticks, machine: machineTicks(), load1: load1() };
}

export function usage(a: Snapshot, b: Snapshot): CpuUsage {
  const ms = b.t - a.t;
  const cores: Record<string, number> = {};
  for (const [name, before] of Object.entries(a.ticks)) {
    const after = b.ticks[name];
    if (before !== undefined && after !== undefined) cores[name] = Math.round(cpuShare(before, after, TICKS_PER_SEC, ms) * 100) / 100;
  }
  const total = b.machine.total - a.machine.total;
  const machineBusy = total > 0 ? Math.round(((b.machine.busy - a.machine.busy) / total) * 100) / 100 : 0;
  return { cores, machineBusy, load1: [a.load1, b.load1] };
}

/**
 * What /proc says about a process and the machine: CPU ticks, RSS, load, fd limits. Linux only,
 * like the bench.
 */
import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";

/** USER_HZ; 100 on every Linux this bench targets (getconf CLK_TCK). */
export const TICKS_PER_SEC = 100;

/** utime + stime of one process in clock ticks; undefined when it is gone. */
export function processTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * Read and write syscalls a process made so far (/proc/<pid>/io: sockets and files alike);
 * undefined when it is gone or unreadable. Counts per event do not depend on how fast the
 * machine is, which CPU per event on a shared machine does.
 */
export function processSyscalls(pid: number): number | undefined {
  try {
    const io = readFileSync(`/proc/${pid}/io`, "utf8");
    const r = /syscr: (\d+)/.exec(io);
    const w = /syscw: (\d+)/.exec(io);
    return r && w ? Number(r[1]) + Number(w[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size in bytes; undefined when the process is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Busy and total ticks of all CPUs together, for the machine-wide CPU share (other users' load
 * included).
 */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3] + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Soft and hard limit on open files of this process. */
export function fdLimits(): { soft: number; hard: number } {
  const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(
    readFileSync("/proc/self/limits", "utf8"),
  );
  const n = (
    s: string | undefined,
  ) => (s === undefined || s === "unlimited" ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

export interface MachineInfo {
  cpuModel: string;
  cpus: number;
  memGiB: number;
  kernel: string;
  node: string;
}

export function machineInfo(): MachineInfo {
  let kernel = "";
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {
    // not Linux; left empty
  }
  return {
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    cpus: cpus().length,
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel,
    node: process.version,
  };
}

/** The 1-minute load average, rounded: what `uptime` shows first. */
export function load1(): number {
  return Math.round(loadavg()[0] * 100) / 100;
}

/** Processes a killed run-local left behind, found by their pid files. */
import { readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { color, say } from "./console.ts";

/**
 * Stops a process left from an earlier run (its pid file exists, it is alive,
 * runs in this directory and its command line contains `marker`).
 */
export async function stopLeftover(
  pidDir: string,
  name: string,
  marker: string,
  cwd: string,
): Promise<void> {
  const file = join(pidDir, `${name}.pid`);
  let pid: number;
  try {
    pid = Number(readFileSync(file, "utf8").trim());
  } catch {
    return;
  }
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  let ours = false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
    ours = cmdline.includes(marker) && readlinkSync(`/proc/${pid}/cwd`) === cwd;
  } catch {
    ours = false;
  }
  if (Number.isInteger(pid) && pid > 1 && ours && alive()) {
    say(`stopping a leftover ${name} (pid ${pid}) from an earlier run`, color.yellow);
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      process.kill(pid, "SIGTERM");
    }
    for (let i = 0; i < 100 && alive(); i++) await sleep(100);
    if (alive()) process.kill(pid, "SIGKILL");
  }
  rmSync(file, { force: true });
}

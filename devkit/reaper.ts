/**
 * Makes sure a process the dev tooling started does not outlive the process
 * that started it: a test file that ends without stopping what it started (a
 * failed assertion, an exception, tap's timeout) must not leave a nats-server
 * or a service running.
 */
import { type ChildProcess, spawn } from "node:child_process";

/** What to kill when this process exits; each entry kills one child (or its group). */
const live = new Set<() => void>();
process.once("exit", () => {
  for (const kill of live) kill();
});

/**
 * Calls `kill` when this process exits while the child still runs. Returns what to call once
 * the child is gone.
 */
export function reapOnExit(kill: () => void): () => void {
  live.add(kill);
  return () => live.delete(kill);
}

/**
 * A tiny shell that SIGKILLs `pid` when this process dies without running its
 * exit handlers (SIGKILL, OOM): its stdin is a pipe from us, so it reads EOF
 * when we are gone. It checks that the pid still runs `marker` first, so a
 * reused pid is left alone. Unref'd, so it never keeps a test alive. Returns
 * what to call once the child is gone, so the watchdog ends without acting.
 */
export function watchdog(pid: number, marker: string): () => void {
  const w: ChildProcess = spawn(
    "/bin/sh",
    [
      "-c",
      'read _ignored; if grep -q "$2" "/proc/$1/cmdline" 2>/dev/null; then kill -KILL "$1"; fi',
      "sh",
      String(pid),
      marker,
    ],
    { stdio: ["pipe", "ignore", "ignore"], detached: true },
  );
  w.on("error", () => {});
  w.unref();
  (w.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return () => {
    if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
  };
}

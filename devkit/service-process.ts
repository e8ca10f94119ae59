/**
 * One service as a child process of this one, its JSON log lines parsed and
 * kept, so a caller can wait for a line, kill it for real and read what it
 * said. ServiceLauncher (launcher.ts) starts and tracks these.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { CATALOG, type ServiceName } from "./catalog.ts";

export type Runtime = "node" | "deno";

export interface ServiceProcess {
  name: ServiceName;
  child: ChildProcess;
  /** Every log line the service printed, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Resolves when the service logs a line whose msg matches. */
  waitForLog(msg: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends a signal and waits for the exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function command(runtime: Runtime, name: ServiceName, nodeArgs: string[]): [string, string[]] {
  const entry = CATALOG[name].entry;
  // The deno binary itself, not `npx deno`: a signal must reach the service, not a wrapper.
  return runtime === "deno"
    ? ["node_modules/.bin/deno", ["run", "-A", entry]]
    : [process.execPath, [...nodeArgs, "--import", "tsx", entry]];
}

/**
 * Runs one service as its own process, the way `make run-local` does, so a test can kill it for
 * real.
 * `nodeArgs` go to node before the entry point (the bench profiles with `--cpu-prof`, which NODE_OPTIONS refuses).
 */
export function spawnService(
  name: ServiceName,
  env: Record<string, string>,
  runtime: Runtime = "node",
  nodeArgs: string[] = [],
): ServiceProcess {
  const [cmd, args] = command(runtime, name, nodeArgs);
  const child = spawn(cmd, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // A service must not outlive a test process that fails or is interrupted.
  const reap = () => child.kill("SIGKILL");
  process.once("exit", reap);
  const logs: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let exited: number | null | undefined;
  const onData = (buf: Buffer) => {
    for (const line of buf.toString("utf8").split("\n")) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ msg: line, raw: true });
      }
    }
    for (const w of waiters.splice(0)) w();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exit = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      exited = code;
      process.removeListener("exit", reap);
      for (const w of waiters.splice(0)) w();
      resolve(code);
    })
  );
  return {
    name,
    child,
    logs,
    async waitForLog(msg, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs.find((l) => typeof l.msg === "string" && msg.test(l.msg));
        if (hit) return hit;
        if (exited !== undefined) {
          throw new Error(
            `${name} exited (${exited}) before logging ${msg}: ${JSON.stringify(logs.slice(-5))}`,
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `${name} did not log ${msg} in ${timeoutMs} ms: ${JSON.stringify(logs.slice(-5))}`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async stop(signal = "SIGTERM") {
      if (exited !== undefined) return exited;
      child.kill(signal);
      return await exit;
    },
  };
}

/**
 * One child process of the dev tooling, the one wrapper that run-local, the
 * test stacks, the fault suite, the bench and the test nats-servers all spawn
 * through. What differs between them is options:
 *
 * - `group`: its own process group, so a terminal's Ctrl-C reaches only
 *   run-local (which then stops its children in order) and a stop reaches the
 *   child's own children too;
 * - `echo`: its lines printed behind a prefix as they come (run-local), or
 *   `keepLogs`: its JSON log lines parsed and kept for a test to wait for and
 *   read back (the launcher);
 * - `pidFile`: so a leftover of a killed run-local is found next time;
 * - `watchdog`: killed even when this process dies by SIGKILL.
 *
 * Whatever the options, the last lines are kept for an error message, and the
 * child is killed when this process exits (reaper.ts). spawnService starts a
 * service of the catalog with these; ServiceLauncher (launcher.ts) tracks them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CATALOG, type ServiceName } from "./catalog.ts";
import { reapOnExit, watchdog } from "./reaper.ts";

export type Runtime = "node" | "deno";

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How a stop ended: `killed` when the grace time ran out and SIGKILL followed. */
export interface StopResult extends ProcessExit {
  killed: boolean;
}

/** How a process is run and watched, apart from what it runs. */
export interface ProcessOptions {
  cwd?: string;
  /** In a process group of its own (signals then go to the whole group). */
  group?: boolean;
  /** Print every line as `<prefix> <line>`; `filter` returns the text to print, or undefined. */
  echo?: {
    prefix: string;
    to?: NodeJS.WritableStream;
    filter?: (line: string) => string | undefined;
  };
  /** Parse every line (JSON log lines) and keep them all in `logs`. */
  keepLogs?: boolean;
  /** How many of the last lines `tail` holds (default 50). */
  tailLines?: number;
  /** Holds the pid while the process runs. */
  pidFile?: string;
  /** Killed even when this process is: the text its command line contains (a reused pid is spared). */
  watchdog?: string;
}

export interface SpawnOptions<N extends string> extends ProcessOptions {
  name: N;
  command: string;
  args: string[];
  /** The child's whole environment. */
  env: NodeJS.ProcessEnv;
}

/**
 * After "exit", how long to wait for "close" (the pipes read to the end): a grandchild that
 * kept them open must not hold up a stop.
 */
const CLOSE_AFTER_EXIT_MS = 2000;

export class ServiceProcess<N extends string = string> {
  readonly name: N;
  readonly child: ChildProcess;
  /** Resolves once the process has exited and its output is read. */
  readonly done: Promise<ProcessExit & { error?: Error }>;
  /** With `keepLogs`: every log line, parsed (a line that is not JSON as `{ msg, raw: true }`). */
  readonly logs: Array<Record<string, unknown>> = [];
  /** The last lines, as printed. */
  readonly tail: string[] = [];
  readonly #group: boolean;
  readonly #listeners = new Set<(line: string) => void>();
  #exited = false;

  constructor(o: SpawnOptions<N>) {
    this.name = o.name;
    this.#group = o.group ?? false;
    this.child = spawn(o.command, o.args, {
      cwd: o.cwd,
      env: o.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: this.#group,
    });
    const pid = this.child.pid;
    if (pid !== undefined && o.pidFile) {
      mkdirSync(dirname(o.pidFile), { recursive: true });
      writeFileSync(o.pidFile, `${pid}\n`);
    }
    const unreap = reapOnExit(() => this.signal("SIGKILL"));
    const undog = pid !== undefined && o.watchdog ? watchdog(pid, o.watchdog) : () => {};
    this.done = new Promise((resolve) => {
      const finish = (exit: ProcessExit & { error?: Error }) => {
        if (this.#exited) return;
        this.#exited = true;
        unreap();
        undog();
        if (o.pidFile) rmSync(o.pidFile, { force: true });
        resolve(exit);
      };
      this.child.once("error", (error) => {
        this.tail.push(String(error));
        finish({ code: 127, signal: null, error });
      });
      // "close" comes once stdout and stderr are read to the end, so a child's last words (a
      // nats-server [FTL] line) are seen before its exit is reported.
      this.child.once("close", (code, signal) => finish({ code, signal }));
      this.child.once("exit", (code, signal) => {
        setTimeout(() => finish({ code, signal }), CLOSE_AFTER_EXIT_MS).unref();
      });
    });
    const tailLines = o.tailLines ?? 50;
    const onLine = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > tailLines) this.tail.shift();
      if (o.keepLogs && line.trim() !== "") this.logs.push(parseLogLine(line));
      for (const f of this.#listeners) f(line);
      const shown = o.echo?.filter ? o.echo.filter(line) : line;
      if (o.echo && shown !== undefined) {
        (o.echo.to ?? process.stdout).write(`${o.echo.prefix} ${shown}\n`);
      }
    };
    eachLine(this.child.stdout, onLine);
    eachLine(this.child.stderr, onLine);
  }

  /** True once the process has exited and its output is read. */
  get exited(): boolean {
    return this.#exited;
  }

  /**
   * Resolves with the first line from now on for which `pick` returns a value; rejects when the
   * process exits first or after `timeoutMs`. `what` names the line in the error.
   */
  waitForLine<T>(
    pick: (line: string) => T | undefined,
    timeoutMs: number,
    what = "its ready line",
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          finish(new Error(`${this.name}: no sign of ${what} in ${timeoutMs} ms${this.#last()}`)),
        timeoutMs,
      );
      const onLine = (line: string) => {
        const v = pick(line);
        if (v !== undefined) finish(undefined, v);
      };
      const finish = (err?: Error, v?: T) => {
        clearTimeout(timer);
        this.#listeners.delete(onLine);
        if (err) reject(err);
        else resolve(v as T);
      };
      this.#listeners.add(onLine);
      void this.done.then(({ code, signal }) =>
        finish(
          new Error(
            `${this.name} exited (code ${code}, signal ${signal}) before ${what}${this.#last()}`,
          ),
        )
      );
    });
  }

  /** How many of the kept log lines have a msg matching `re`. */
  countLogs(re: RegExp): number {
    return this.logs.filter((l) => typeof l.msg === "string" && re.test(l.msg)).length;
  }

  /** Resolves with the first log line (kept, or from now on) whose msg matches. */
  waitForLog(msg: RegExp, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const matches = (l: Record<string, unknown>) => typeof l.msg === "string" && msg.test(l.msg);
    const kept = this.logs.find(matches);
    if (kept) return Promise.resolve(kept);
    return this.waitForLine(
      (line) => {
        const l = parseLogLine(line);
        return matches(l) ? l : undefined;
      },
      timeoutMs,
      `a log line matching ${msg}`,
    );
  }

  /** Sends `sig` (to the whole group when it has one) without waiting. */
  signal(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (this.#exited || pid === undefined) return;
    try {
      // The whole group: a child's own children (e.g. tsx workers) go too.
      if (this.#group) process.kill(-pid, sig);
      else this.child.kill(sig);
    } catch {
      try {
        this.child.kill(sig);
      } catch {
        // already gone
      }
    }
  }

  /** Sends `sig` and waits for the exit; SIGKILL follows after `killAfterMs` when given. */
  async stop(sig: NodeJS.Signals = "SIGTERM", killAfterMs?: number): Promise<StopResult> {
    if (this.#exited) return { ...(await this.done), killed: false };
    this.signal(sig);
    let killed = false;
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => {
      killed = true;
      this.signal("SIGKILL");
    }, killAfterMs);
    const { code, signal } = await this.done;
    clearTimeout(timer);
    return { code, signal, killed };
  }

  #last(): string {
    return this.tail.length > 0 ? `: ${this.tail.slice(-5).join("\n")}` : "";
  }
}

/** A JSON log line as an object; anything else as `{ msg, raw: true }`. */
function parseLogLine(line: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(line);
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      return v as Record<string, unknown>;
    }
  } catch {
    // not JSON
  }
  return { msg: line, raw: true };
}

/** Splits a stream into lines and hands each to `onLine`. */
function eachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, i).replace(/\r$/, ""));
      buf = buf.slice(i + 1);
    }
  });
  stream.on("end", () => {
    if (buf !== "") onLine(buf);
    buf = "";
  });
}

function command(runtime: Runtime, name: ServiceName, nodeArgs: string[]): [string, string[]] {
  const entry = CATALOG[name].entry;
  // The deno binary itself, not `npx deno`: a signal must reach the service, not a wrapper.
  return runtime === "deno"
    ? ["node_modules/.bin/deno", ["run", "-A", entry]]
    : [process.execPath, [...nodeArgs, "--import", "tsx", entry]];
}

/**
 * Runs one service of the catalog as its own process with its log lines kept (unless `o` says
 * otherwise), so a test can kill it for real. `env` is added to this process's environment;
 * `nodeArgs` go to node before the entry point (the bench profiles with `--cpu-prof`, which
 * NODE_OPTIONS refuses). The entry point is relative to `o.cwd` (default: this directory).
 */
export function spawnService(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  runtime: Runtime = "node",
  nodeArgs: string[] = [],
  o: ProcessOptions = { keepLogs: true },
): ServiceProcess<ServiceName> {
  const [cmd, args] = command(runtime, name, nodeArgs);
  return new ServiceProcess({ ...o, name, command: cmd, args, env: { ...process.env, ...env } });
}

/**
 * Small process supervisor for `make run-local`: spawns children in their own
 * process group (so a terminal Ctrl-C reaches only the supervisor, which then
 * stops them in order), prefixes and colours their output, records pid files
 * so a leftover from a killed run can be cleaned up next time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  accessSync,
  constants,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const useColor = process.env.NO_COLOR === undefined &&
  (process.stdout.isTTY || process.env.FORCE_COLOR !== undefined);
const paint = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
export const color = {
  bold: paint("1"),
  dim: paint("2"),
  red: paint("31"),
  green: paint("32"),
  yellow: paint("33"),
  blue: paint("34"),
  magenta: paint("35"),
  cyan: paint("36"),
  gray: paint("90"),
};
export type Paint = (s: string) => string;

const PREFIX_WIDTH = 9;

export function prefix(name: string, p: Paint): string {
  return p(`[${name}]`.padEnd(PREFIX_WIDTH));
}

/** Lines from the supervisor itself. */
export function say(msg: string, p: Paint = color.bold): void {
  process.stdout.write(`${prefix("local", p)} ${msg}\n`);
}

export function shout(msg: string): void {
  process.stderr.write(`${prefix("local", color.red)} ${color.red(msg)}\n`);
}

const levelPaint: Record<string, Paint> = {
  debug: color.gray,
  info: color.green,
  warn: color.yellow,
  error: color.red,
};

/**
 * Makes one JSON log line of the services readable: "12:00:01.123 info  msg k=v".
 * Anything that is not such a line is returned unchanged.
 */
export function formatLogLine(line: string, raw = false): string {
  if (raw || !line.startsWith("{")) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry.msg !== "string" || typeof entry.level !== "string") return line;
  const { ts, level, msg, service: _service, ...rest } = entry;
  const time = typeof ts === "string" && ts.length >= 23 ? ts.slice(11, 23) : "";
  const lvl = (levelPaint[level] ?? ((s: string) => s))(level.padEnd(5));
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${color.gray(time)} ${lvl} ${msg}${fields ? ` ${color.dim(fields)}` : ""}`;
}

/** Splits a stream into lines and hands each to `onLine`. */
export function eachLine(
  stream: NodeJS.ReadableStream | null,
  onLine: (line: string) => void,
): void {
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

export interface ChildOptions {
  name: string;
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  paint: Paint;
  /** Returns the text to print for a line, or undefined to hide it. */
  filter?: (line: string) => string | undefined;
  /** Directory for pid files. */
  pidDir: string;
}

export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited = false;
  readonly #pidFile: string;
  readonly #lines = new Set<(line: string) => void>();
  readonly tail: string[] = [];

  constructor(o: ChildOptions) {
    this.name = o.name;
    this.#pidFile = join(o.pidDir, `${o.name}.pid`);
    this.proc = spawn(o.command, o.args, {
      cwd: o.cwd,
      env: o.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    if (this.proc.pid !== undefined) {
      mkdirSync(o.pidDir, { recursive: true });
      writeFileSync(this.#pidFile, `${this.proc.pid}\n`);
    }
    this.done = new Promise((resolve) => {
      this.proc.once("error", (err) => {
        this.exited = true;
        this.tail.push(String(err));
        resolve({ code: 127, signal: null });
      });
      // "close", not "exit": it comes once stdout and stderr are read to the end, so a
      // child's last words (nats-server's [FTL] line) are printed before its exit is reported.
      this.proc.once("close", (code, signal) => {
        this.exited = true;
        rmSync(this.#pidFile, { force: true });
        resolve({ code, signal });
      });
    });
    const pre = prefix(o.name, o.paint);
    const onLine = (line: string) => {
      this.tail.push(line);
      if (this.tail.length > 50) this.tail.shift();
      for (const f of this.#lines) f(line);
      const shown = o.filter ? o.filter(line) : line;
      if (shown !== undefined) process.stdout.write(`${pre} ${shown}\n`);
    };
    eachLine(this.proc.stdout, onLine);
    eachLine(this.proc.stderr, onLine);
  }

  /** Resolves with the first line for which `pick` returns a value; rejects on exit or timeout. */
  waitForLine<T>(pick: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`${this.name}: no ready line after ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onLine = (line: string) => {
        const v = pick(line);
        if (v !== undefined) finish(undefined, v);
      };
      const finish = (err?: Error, v?: T) => {
        clearTimeout(timer);
        this.#lines.delete(onLine);
        if (err) reject(err);
        else resolve(v as T);
      };
      this.#lines.add(onLine);
      void this.done.then(({ code, signal }) =>
        finish(
          new Error(`${this.name} exited before it was ready (code ${code}, signal ${signal})`),
        )
      );
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (this.exited || this.proc.pid === undefined) return;
    try {
      // The whole group: a child's own children (e.g. tsx workers) go too.
      process.kill(-this.proc.pid, sig);
    } catch {
      try {
        this.proc.kill(sig);
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process has exited. */
  async stop(
    graceMs: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
    if (this.exited) return { ...(await this.done), killed: false };
    this.signal("SIGTERM");
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.signal("SIGKILL");
    }, graceMs);
    const r = await this.done;
    clearTimeout(timer);
    return { ...r, killed };
  }
}

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

export function findExecutable(
  name: string,
  extraDirs: string[] = ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"],
): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  for (const d of extraDirs) if (!dirs.includes(d)) dirs.push(d);
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}

/** True when a TCP listener could bind host:port now. */
export function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * `preferred` when free, else (or when 0) any free port; `moved` says the preferred one was
 * taken.
 */
export async function pickPort(
  preferred: number,
  host = "127.0.0.1",
): Promise<{ port: number; moved: boolean }> {
  if (preferred > 0 && (await canListen(preferred, host))) return { port: preferred, moved: false };
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const a = srv.address();
      const port = typeof a === "object" && a ? a.port : 0;
      srv.close(() => resolve({ port, moved: preferred > 0 }));
    });
  });
}

/** Polls an HTTP URL until it answers 2xx. */
export async function waitForHttp(
  url: string,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  return false;
}

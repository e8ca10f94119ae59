/**
 * One child of run-local: spawned in its own process group (so a terminal
 * Ctrl-C reaches only run-local, which then stops its children in order), its
 * output prefixed and coloured, its last lines kept for an error message, and
 * a pid file so a leftover from a killed run can be cleaned up next time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Paint, prefix } from "./console.ts";

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

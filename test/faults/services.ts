import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type ServiceProcess, spawnService } from "../e2e/processes.ts";
import type { ServiceName } from "../e2e/stack.ts";
import { sleep } from "./wait.ts";

export const SERVICES: readonly ServiceName[] = ["ingest", "route", "persist", "notify"];

const READY: Record<ServiceName, RegExp> = {
  ingest: /^ingest listening$/,
  route: /^route running$/,
  persist: /^persist running$/,
  notify: /^notify listening$/,
};

/** What a graceful stop looked like: its exit code and how long it took. */
export interface TermResult {
  code: number | null;
  ms: number;
}

/**
 * The four services as real processes on fixed ports, so clients reconnect to
 * the same URLs after a restart. Every exit the test did not cause is recorded:
 * a service must never die on its own because something else did.
 */
export class Services {
  readonly #env: Record<string, string>;
  readonly #own: (name: ServiceName) => Record<string, string>;
  readonly #procs = new Map<ServiceName, ServiceProcess>();
  /** Every process started, in order, for the log dump. */
  readonly #history: ServiceProcess[] = [];
  /** Processes the test is stopping on purpose. */
  readonly #expected = new Set<ServiceProcess>();
  readonly unexpectedExits: string[] = [];
  /** Starts that had to be tried again (the process exited before it was ready). */
  readonly startRetries: string[] = [];

  /** `own`: what one service adds to `env`, e.g. its NATS_USER and NATS_PASSWORD. */
  constructor(
    env: Record<string, string>,
    own: (name: ServiceName) => Record<string, string> = () => ({}),
  ) {
    this.#env = env;
    this.#own = own;
  }

  async startAll(): Promise<void> {
    await Promise.all(SERVICES.map((s) => this.start(s)));
  }

  async start(name: ServiceName): Promise<void> {
    for (let attempt = 1;; attempt++) {
      const proc = spawnService(name, { ...this.#env, ...this.#own(name) });
      this.#procs.set(name, proc);
      this.#history.push(proc);
      let ready = false;
      proc.child.on("exit", (code, signal) => {
        // An exit before ready is a failed start, retried below.
        if (ready && !this.#expected.delete(proc)) {
          this.unexpectedExits.push(
            `${name} exited on its own (code ${code}, signal ${signal}): ${tail(proc)}`,
          );
        }
      });
      try {
        await proc.waitForLog(READY[name], 60_000);
        ready = true;
        return;
      } catch (err) {
        this.startRetries.push(`${name}: ${String(err).slice(0, 300)}`);
        await proc.stop("SIGKILL");
        if (attempt >= 5) throw err;
        await sleep(500 * attempt);
      }
    }
  }

  /** kill -9: no chance to finish anything. */
  async kill(name: ServiceName): Promise<void> {
    const proc = this.#current(name);
    this.#expected.add(proc);
    await proc.stop("SIGKILL");
  }

  /**
   * SIGTERM: the graceful stop; SIGKILL after 30 s so a hang fails the check instead of the
   * run.
   */
  async term(name: ServiceName): Promise<TermResult> {
    const proc = this.#current(name);
    this.#expected.add(proc);
    const started = Date.now();
    const timer = setTimeout(() => proc.child.kill("SIGKILL"), 30_000);
    try {
      return { code: await proc.stop("SIGTERM"), ms: Date.now() - started };
    } finally {
      clearTimeout(timer);
    }
  }

  /** How many log lines of every process ever started have a msg matching `re`. */
  countLogs(re: RegExp): number {
    return this.#history.reduce(
      (n, p) => n + p.logs.filter((l) => typeof l.msg === "string" && re.test(l.msg)).length,
      0,
    );
  }

  /** Writes what every process ever started logged, one line each, oldest process first. */
  dumpLogs(file: string): void {
    mkdirSync(dirname(file), { recursive: true });
    const lines = this.#history.flatMap((
      p,
    ) => [`=== ${p.name} pid ${p.child.pid}`, ...p.logs.map((l) => JSON.stringify(l))]);
    writeFileSync(file, `${lines.join("\n")}\n`);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#procs.values()].map((p) => {
      this.#expected.add(p);
      return p.stop("SIGTERM");
    }));
  }

  #current(name: ServiceName): ServiceProcess {
    const proc = this.#procs.get(name);
    if (!proc) throw new Error(`${name} was never started`);
    return proc;
  }
}

function tail(p: ServiceProcess): string {
  return JSON.stringify(p.logs.slice(-5));
}

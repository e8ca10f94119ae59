/**
 * Starts the services of the catalog as processes and keeps track of them:
 * which process is current for each service, every process ever started (for
 * log dumps and counts), starts that had to be retried, and exits nobody asked
 * for. The process stack of the e2e tests, the fault suite, the Deno test and
 * the bench all launch through one of these.
 *
 * All state lives on the instance and nothing here exits the process, so a
 * test file or the bench can hold several launchers at once.
 *
 * One process per service for now; several replicas of a service would key
 * #procs by name and instance instead of name alone.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CATALOG, SERVICE_NAMES, type ServiceName } from "./catalog.ts";
import {
  type ProcessOptions,
  type Runtime,
  type ServiceProcess,
  spawnService,
} from "./service-process.ts";

type Proc = ServiceProcess<ServiceName>;

export interface LauncherOptions {
  /** What every service runs with. */
  env: NodeJS.ProcessEnv;
  /** What one service adds to `env`, e.g. its NATS_USER and NATS_PASSWORD. */
  own?: (name: ServiceName) => NodeJS.ProcessEnv;
  runtime?: Runtime;
  /**
   * Tries per start: a port just released by a killed process can take a moment to bind
   * again.
   */
  attempts?: number;
  /** Wait before try n+1 (n from 1). */
  retryDelayMs?: (attempt: number) => number;
  readyTimeoutMs?: number;
  /** Where the entry points are relative to (default: this process's directory). */
  cwd?: string;
  /**
   * How `name`'s process is run: its own process group, its lines echoed behind a prefix, a pid
   * file (run-local). Default: log lines kept, for waitForLog, countLogs and dumpLogs.
   */
  processOptions?: (name: ServiceName) => ProcessOptions;
  /** Called with every process as it is spawned (run-local watches each for an early exit). */
  onSpawn?: (proc: Proc) => void;
  /**
   * Resolves once `proc` serves, throws when it will not. Default: its ready line of the
   * catalog within `readyTimeoutMs`. run-local asks /healthz instead, as a developer's
   * LOG_LEVEL may hide the ready line.
   */
  ready?: (proc: Proc) => Promise<unknown>;
}

/** What a graceful stop looked like: its exit code and how long it took. */
export interface TermResult {
  code: number | null;
  ms: number;
  /** The grace time ran out: SIGKILL followed. */
  killed: boolean;
}

export class ServiceLauncher {
  readonly #o:
    & Required<Omit<LauncherOptions, "own" | "cwd" | "onSpawn" | "ready">>
    & Pick<LauncherOptions, "own" | "cwd" | "onSpawn" | "ready">;
  readonly #procs = new Map<ServiceName, Proc>();
  /** Every process started, in order. */
  readonly #history: Proc[] = [];
  /** Processes being stopped on purpose. */
  readonly #expected = new Set<Proc>();
  readonly unexpectedExits: string[] = [];
  /** Starts that had to be tried again (the process exited, or was not ready in time). */
  readonly startRetries: string[] = [];

  constructor(o: LauncherOptions) {
    this.#o = {
      runtime: "node",
      attempts: 5,
      retryDelayMs: (n) => 500 * n,
      readyTimeoutMs: 60_000,
      processOptions: () => ({ keepLogs: true }),
      ...o,
    };
  }

  /** Every process started so far, oldest first (a restarted service appears more than once). */
  get history(): readonly Proc[] {
    return this.#history;
  }

  /** The environment `name` runs with. */
  envOf(name: ServiceName): NodeJS.ProcessEnv {
    return { ...this.#o.env, ...this.#o.own?.(name) };
  }

  /** All services, in parallel or (on a machine that gains nothing from it) one at a time. */
  async startAll(o: { sequential?: boolean } = {}): Promise<void> {
    if (o.sequential) { for (const name of SERVICE_NAMES) await this.start(name); }
    else await Promise.all(SERVICE_NAMES.map((name) => this.start(name)));
  }

  /**
   * Starts `name` and waits for its ready line; `nodeArgs` go to node before the entry point
   * (the bench profiles with `--cpu-prof`, which NODE_OPTIONS refuses).
   */
  async start(name: ServiceName, nodeArgs: string[] = []): Promise<void> {
    for (let attempt = 1;; attempt++) {
      const proc = spawnService(name, this.envOf(name), this.#o.runtime, nodeArgs, {
        cwd: this.#o.cwd,
        ...this.#o.processOptions(name),
      });
      this.#procs.set(name, proc);
      this.#history.push(proc);
      this.#o.onSpawn?.(proc);
      let ready = false;
      void proc.done.then(({ code, signal }) => {
        // An exit before ready is a failed start, retried below.
        if (ready && !this.#expected.delete(proc)) {
          this.unexpectedExits.push(
            `${name} exited on its own (code ${code}, signal ${signal}): ${tail(proc)}`,
          );
        }
      });
      try {
        await (this.#o.ready?.(proc) ??
          proc.waitForLog(CATALOG[name].ready, this.#o.readyTimeoutMs));
        ready = true;
        return;
      } catch (err) {
        this.startRetries.push(`${name}: ${String(err).slice(0, 300)}`);
        await proc.stop("SIGKILL");
        if (attempt >= this.#o.attempts) throw err;
        await sleep(this.#o.retryDelayMs(attempt));
      }
    }
  }

  /** Where `name`'s /healthz, /readyz and /metrics answer (its ops port from its environment). */
  opsUrl(name: ServiceName): string {
    const { variable, defaultPort } = CATALOG[name].ops;
    return `http://127.0.0.1:${this.envOf(name)[variable] ?? defaultPort}`;
  }

  /** The process `name` runs as now. */
  process(name: ServiceName): Proc {
    const proc = this.#procs.get(name);
    if (!proc) throw new Error(`${name} was never started`);
    return proc;
  }

  /** Sends `signal` (SIGKILL: a crash) and waits for the exit; resolves with the exit code. */
  async stop(name: ServiceName, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    const proc = this.#procs.get(name);
    if (!proc) return null;
    this.#expected.add(proc);
    return (await proc.stop(signal)).code;
  }

  /** kill -9: no chance to finish anything. */
  async kill(name: ServiceName): Promise<void> {
    this.process(name);
    await this.stop(name, "SIGKILL");
  }

  /**
   * SIGTERM: the graceful stop; SIGKILL after `killAfterMs` so a hang fails a check instead of
   * the run.
   */
  term(name: ServiceName, killAfterMs = 30_000): Promise<TermResult> {
    return this.#term(this.process(name), killAfterMs);
  }

  /** Stops `name` gracefully and starts a fresh process in its place. */
  async restart(name: ServiceName, nodeArgs?: string[]): Promise<void> {
    await this.stop(name);
    await this.start(name, nodeArgs);
  }

  /**
   * SIGTERM to every current process, all at once; with `killAfterMs`, SIGKILL to each that has
   * not exited by then. Resolves with how each stop went.
   */
  async stopAll(killAfterMs?: number): Promise<Array<TermResult & { name: ServiceName }>> {
    return await Promise.all(
      [...this.#procs].map(async ([name, proc]) => ({
        name,
        ...(await this.#term(proc, killAfterMs)),
      })),
    );
  }

  async #term(proc: Proc, killAfterMs?: number): Promise<TermResult> {
    const started = Date.now();
    this.#expected.add(proc);
    const { code, killed } = await proc.stop("SIGTERM", killAfterMs);
    return { code, ms: Date.now() - started, killed };
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
}

function tail(p: Proc): string {
  return JSON.stringify(p.logs.slice(-5));
}

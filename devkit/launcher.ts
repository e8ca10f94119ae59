/**
 * Starts the services of the catalog as processes and keeps track of them:
 * which process is current for each replica of each service, every process
 * ever started (for log dumps and counts), starts that had to be retried, and
 * exits nobody asked for. The process stack of the e2e tests, the fault suite,
 * the Deno test and the bench all launch through one of these.
 *
 * A service runs as one process unless `replicas` asks for more. A process is
 * named by a ServiceRef: the service's name alone is its first replica
 * (instance 0), so callers that know of one process per service never name an
 * instance. Replica 0 listens where the environment says; every other replica
 * needs ports of its own (replicaPorts, or ones picked here and kept, so a
 * restarted replica comes back where its clients expect it).
 *
 * All state lives on the instance and nothing here exits the process, so a
 * test file or the bench can hold several launchers at once.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CATALOG, listenersOf, SERVICE_NAMES, type ServiceName } from "./catalog.ts";
import { restartablePorts } from "./ports.ts";
import {
  type ProcessOptions,
  type Runtime,
  type ServiceProcess,
  spawnService,
} from "./service-process.ts";

type Proc = ServiceProcess<ServiceName>;

/** One replica of a service, 0 the first. */
export interface Replica {
  name: ServiceName;
  instance: number;
}

/** One process of a service: its name alone is instance 0. */
export type ServiceRef = ServiceName | Replica;

/** `name` for instance 0 (as with one process per service), `name-<instance>` for the others. */
export function instanceLabel(ref: ServiceRef): string {
  const { name, instance } = resolveRef(ref);
  return instance === 0 ? name : `${name}-${instance}`;
}

function resolveRef(ref: ServiceRef): Replica {
  return typeof ref === "string" ? { name: ref, instance: 0 } : ref;
}

export interface LauncherOptions {
  /** What every service runs with. */
  env: NodeJS.ProcessEnv;
  /** What one service adds to `env`, e.g. its NATS_USER and NATS_PASSWORD. */
  own?: (name: ServiceName) => NodeJS.ProcessEnv;
  /** How many processes startAll starts of a service (default 1). */
  replicas?: Partial<Record<ServiceName, number>>;
  /**
   * The port variables of replica `instance` (1 and up) of `name`, one for each of its
   * listeners (catalog.listenersOf). Default: free ports below the ephemeral range, picked at
   * its first start and kept.
   */
  replicaPorts?: (name: ServiceName, instance: number) => Record<string, string>;
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
   * How a process is run: its own process group, its lines echoed behind a prefix, a pid file
   * (run-local). Default: log lines kept, for waitForLog, countLogs and dumpLogs.
   */
  processOptions?: (name: ServiceName, instance: number) => ProcessOptions;
  /** Called with every process as it is spawned (run-local watches each for an early exit). */
  onSpawn?: (proc: Proc) => void;
  /**
   * Resolves once `proc` (the replica `label`) serves, throws when it will not. Default: its
   * ready line of the catalog within `readyTimeoutMs`. run-local asks `opsUrl`/healthz instead,
   * as a developer's LOG_LEVEL may hide the ready line.
   */
  ready?: (proc: Proc, replica: { label: string; opsUrl: string }) => Promise<unknown>;
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
    & Required<
      Omit<LauncherOptions, "own" | "cwd" | "onSpawn" | "ready" | "replicas" | "replicaPorts">
    >
    & Pick<LauncherOptions, "own" | "cwd" | "onSpawn" | "ready" | "replicas" | "replicaPorts">;
  /** The current process of each replica, by instanceLabel. */
  readonly #procs = new Map<string, { ref: Replica; proc: Proc }>();
  /** Ports picked here for replicas without replicaPorts, by instanceLabel. */
  readonly #picked = new Map<string, Record<string, string>>();
  /** Every process started, in order. */
  readonly #history: Proc[] = [];
  readonly #labels = new WeakMap<Proc, string>();
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

  /** Every process started so far, oldest first (a restarted replica appears more than once). */
  get history(): readonly Proc[] {
    return this.#history;
  }

  /** How many processes startAll starts of `name`. */
  replicasOf(name: ServiceName): number {
    return this.#o.replicas?.[name] ?? 1;
  }

  /** Every replica of `name` startAll starts, instance 0 first. */
  refsOf(name: ServiceName): Replica[] {
    return Array.from({ length: this.replicasOf(name) }, (_, instance) => ({ name, instance }));
  }

  /** The environment a replica runs with; another replica than 0 only once its ports are known. */
  envOf(ref: ServiceRef): NodeJS.ProcessEnv {
    const { name, instance } = resolveRef(ref);
    const env = { ...this.#o.env, ...this.#o.own?.(name) };
    if (instance === 0) return env;
    const ports = this.#o.replicaPorts?.(name, instance) ?? this.#picked.get(instanceLabel(ref));
    if (!ports) throw new Error(`${instanceLabel(ref)} has no ports yet: start it first`);
    return { ...env, ...ports };
  }

  /** Every replica of every service, in parallel or (on a machine that gains nothing from it) one at a time. */
  async startAll(o: { sequential?: boolean } = {}): Promise<void> {
    const refs = SERVICE_NAMES.flatMap((name) => this.refsOf(name));
    if (o.sequential) { for (const ref of refs) await this.start(ref); }
    else await Promise.all(refs.map((ref) => this.start(ref)));
  }

  /**
   * Starts a replica and waits for its ready line; `nodeArgs` go to node before the entry point
   * (the bench profiles with `--cpu-prof`, which NODE_OPTIONS refuses).
   */
  async start(ref: ServiceRef, nodeArgs: string[] = []): Promise<void> {
    const r = resolveRef(ref);
    const label = instanceLabel(r);
    await this.#pickPorts(r);
    for (let attempt = 1;; attempt++) {
      const proc = spawnService(r.name, this.envOf(r), this.#o.runtime, nodeArgs, {
        cwd: this.#o.cwd,
        ...this.#o.processOptions(r.name, r.instance),
      });
      this.#procs.set(label, { ref: r, proc });
      this.#history.push(proc);
      this.#labels.set(proc, label);
      this.#o.onSpawn?.(proc);
      let ready = false;
      void proc.done.then(({ code, signal }) => {
        // An exit before ready is a failed start, retried below.
        if (ready && !this.#expected.delete(proc)) {
          this.unexpectedExits.push(
            `${label} exited on its own (code ${code}, signal ${signal}): ${tail(proc)}`,
          );
        }
      });
      try {
        await (this.#o.ready?.(proc, { label, opsUrl: this.opsUrl(r) }) ??
          proc.waitForLog(CATALOG[r.name].ready, this.#o.readyTimeoutMs));
        ready = true;
        return;
      } catch (err) {
        this.startRetries.push(`${label}: ${String(err).slice(0, 300)}`);
        await proc.stop("SIGKILL");
        if (attempt >= this.#o.attempts) throw err;
        await sleep(this.#o.retryDelayMs(attempt));
      }
    }
  }

  /** Where a replica's /healthz, /readyz and /metrics answer (its ops port from its environment). */
  opsUrl(ref: ServiceRef): string {
    const { variable, defaultPort } = CATALOG[resolveRef(ref).name].ops;
    return `http://127.0.0.1:${this.envOf(ref)[variable] || defaultPort}`;
  }

  /** The process a replica runs as now. */
  process(ref: ServiceRef): Proc {
    const proc = this.#procs.get(instanceLabel(ref))?.proc;
    if (!proc) throw new Error(`${instanceLabel(ref)} was never started`);
    return proc;
  }

  /** Sends `signal` (SIGKILL: a crash) and waits for the exit; resolves with the exit code. */
  async stop(ref: ServiceRef, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    const proc = this.#procs.get(instanceLabel(ref))?.proc;
    if (!proc) return null;
    this.#expected.add(proc);
    return (await proc.stop(signal)).code;
  }

  /** kill -9: no chance to finish anything. */
  async kill(ref: ServiceRef): Promise<void> {
    this.process(ref);
    await this.stop(ref, "SIGKILL");
  }

  /**
   * SIGTERM: the graceful stop; SIGKILL after `killAfterMs` so a hang fails a check instead of
   * the run.
   */
  term(ref: ServiceRef, killAfterMs = 30_000): Promise<TermResult> {
    return this.#term(this.process(ref), killAfterMs);
  }

  /** Stops a replica gracefully and starts a fresh process in its place. */
  async restart(ref: ServiceRef, nodeArgs?: string[]): Promise<void> {
    await this.stop(ref);
    await this.start(ref, nodeArgs);
  }

  /**
   * SIGTERM to every current process, all at once; with `killAfterMs`, SIGKILL to each that has
   * not exited by then. Resolves with how each stop went.
   */
  async stopAll(
    killAfterMs?: number,
  ): Promise<Array<TermResult & Replica>> {
    return await Promise.all(
      [...this.#procs.values()].map(async ({ ref, proc }) => ({
        ...ref,
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

  /** Ports for a replica other than 0 that replicaPorts does not place, once for all its starts. */
  async #pickPorts(r: Replica): Promise<void> {
    const label = instanceLabel(r);
    if (r.instance === 0 || this.#o.replicaPorts || this.#picked.has(label)) return;
    const listeners = listenersOf(CATALOG[r.name]);
    const ports = await restartablePorts(listeners.length);
    this.#picked.set(
      label,
      Object.fromEntries(listeners.map((l, i) => [l.variable, String(ports[i])])),
    );
  }

  /** How many log lines of every process ever started have a msg matching `re`. */
  countLogs(re: RegExp): number {
    return this.#history.reduce((n, p) => n + p.countLogs(re), 0);
  }

  /** Writes what every process ever started logged, one line each, oldest process first. */
  dumpLogs(file: string): void {
    mkdirSync(dirname(file), { recursive: true });
    const lines = this.#history.flatMap((p) => [
      `=== ${this.#labels.get(p) ?? p.name} pid ${p.child.pid}`,
      ...p.logs.map((l) => JSON.stringify(l)),
    ]);
    writeFileSync(file, `${lines.join("\n")}\n`);
  }
}

function tail(p: Proc): string {
  return JSON.stringify(p.logs.slice(-5));
}

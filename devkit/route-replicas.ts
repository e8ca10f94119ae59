/**
 * Route in several replicas, each a process on a port of its own, started and killed one by
 * one: what the processing e2e test and the fault suite's replicated modes need to kill the
 * replica that holds partitions, or two at once. Every process ever started stays in
 * `history` for log counts and dumps.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { CATALOG } from "./catalog.ts";
import { type ServiceProcess, spawnService } from "./service-process.ts";

export class RouteReplicas {
  readonly history: ServiceProcess[] = [];
  readonly #procs: Array<ServiceProcess | undefined> = [];
  /** Processes that exited without being stopped here, with their last lines. */
  readonly unexpectedExits: string[] = [];
  readonly #env: NodeJS.ProcessEnv;
  readonly #ports: readonly number[];

  /** One replica per port; `env` is route's environment less ROUTE_PORT. */
  constructor(env: NodeJS.ProcessEnv, ports: readonly number[]) {
    this.#env = env;
    this.#ports = ports;
  }

  get count(): number {
    return this.#ports.length;
  }

  /** Replica `i`'s current process, if it runs. */
  process(i: number): ServiceProcess | undefined {
    return this.#procs[i];
  }

  async start(i: number): Promise<void> {
    const proc = spawnService("route", { ...this.#env, ROUTE_PORT: String(this.#ports[i]) });
    this.#procs[i] = proc;
    this.history.push(proc);
    void proc.done.then(({ code, signal }) => {
      if (this.#procs[i] === proc) {
        this.unexpectedExits.push(
          `route replica ${i} exited on its own (code ${code}, signal ${signal}): ${
            JSON.stringify(proc.logs.slice(-5))
          }`,
        );
      }
    });
    await proc.waitForLog(CATALOG.route.ready, 60_000);
  }

  async startAll(): Promise<void> {
    for (let i = 0; i < this.count; i++) await this.start(i);
  }

  /** kill -9 of replica `i`: no hand-over, its partitions stay pinned to it until the pin lapses. */
  async kill(i: number): Promise<void> {
    const proc = this.#procs[i];
    this.#procs[i] = undefined;
    await proc?.stop("SIGKILL");
  }

  /** SIGTERM to every running replica at once. */
  async stopAll(): Promise<void> {
    const procs = this.#procs.splice(0);
    await Promise.all(procs.map((p) => p?.stop("SIGTERM")));
  }

  /** How many log lines of every replica process ever started have a msg matching `re`. */
  countLogs(re: RegExp): number {
    return this.history.reduce(
      (n, p) => n + p.logs.filter((l) => typeof l.msg === "string" && re.test(l.msg)).length,
      0,
    );
  }

  dumpLogs(file: string): void {
    mkdirSync(dirname(file), { recursive: true });
    const lines = this.history.flatMap((p) => [
      `=== route pid ${p.child.pid}`,
      ...p.logs.map((l) => JSON.stringify(l)),
    ]);
    writeFileSync(file, `${lines.join("\n")}\n`);
  }
}

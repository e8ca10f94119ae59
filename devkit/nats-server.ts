/**
 * Starts real nats-server processes for tests: one server on free loopback
 * ports with JetStream in a temporary store dir (a 3-node JetStream cluster:
 * nats-cluster.ts).
 *
 *   const ns = await startNatsServer();
 *   const nc = await connect({ servers: ns.url });
 *   ...
 *   await ns.stop();
 *
 * Set NATS_SERVER_LOG=1 to copy the servers' own log lines to stderr.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findTool, toolMissingReason } from "../infra/tools/tools.ts";
import { freePorts } from "./ports.ts";
import { ServiceProcess } from "./service-process.ts";

export interface NatsServerOptions {
  /** Enable JetStream (default true). */
  jetstream?: boolean;
  /** JetStream store dir; a temporary one (removed on stop) when absent. */
  storeDir?: string;
  /** Client port; a free one when absent. */
  port?: number;
  /** Monitor (HTTP) port; a free one when absent. */
  monitorPort?: number;
  /** Extra nats-server arguments, appended last. */
  args?: string[];
  /** How long to wait for the server to become ready (default 20 s). */
  readyTimeoutMs?: number;
  /** Label used in error messages and NATS_SERVER_LOG output. */
  name?: string;
  /**
   * Variables added to the server's environment (e.g. the passwords users.conf reads); kept
   * across restarts.
   */
  env?: Record<string, string>;
}

export interface NatsServerHandle {
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  readonly monitorPort: number;
  /** http://127.0.0.1:MONITOR_PORT */
  readonly monitorUrl: string;
  readonly storeDir: string;
  /** The process id of the current nats-server process (changes on restart). */
  readonly pid: number | undefined;
  /** True while the current process has not exited. */
  readonly running: boolean;
  /** Sends a signal (default SIGKILL, i.e. a crash) without waiting; the store dir is kept. */
  kill(signal?: NodeJS.Signals): void;
  /** Waits for the current process to exit (resolves at once when it already has). */
  exited(): Promise<void>;
  /**
   * Graceful stop (SIGTERM, then SIGKILL after 10 s); removes the store dir if this helper
   * created it.
   */
  stop(): Promise<void>;
  /**
   * Stops the server if it runs (store dir kept) and starts it again on the same ports and
   * store dir.
   */
  restart(): Promise<void>;
  /** GET a monitor endpoint such as "/jsz" or "/varz" and parse the JSON. */
  monitor<T = Record<string, unknown>>(path: string): Promise<T>;
  /** The last lines the server logged (for assertion messages). */
  logTail(): string;
}

export class NatsServerMissingError extends Error {
  constructor() {
    super(toolMissingReason("nats-server"));
    this.name = "NatsServerMissingError";
  }
}

/**
 * Path of the pinned nats-server (.tools/bin, NATS_SERVER_BIN, or a new enough one on PATH),
 * else undefined.
 */
export function findNatsServer(): string | undefined {
  return findTool("nats-server");
}

const LOG_LINES = 200;

/** One nats-server process; startNatsServer and startNatsCluster (nats-cluster.ts) make these. */
export class Server implements NatsServerHandle {
  readonly port: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  readonly #o: ServerOptions;
  #proc: ServiceProcess | undefined;

  constructor(o: ServerOptions) {
    this.#o = o;
    this.port = o.port;
    this.monitorPort = o.monitorPort;
    this.storeDir = o.storeDir;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get monitorUrl(): string {
    return `http://127.0.0.1:${this.monitorPort}`;
  }

  get pid(): number | undefined {
    return this.running ? this.#proc?.child.pid : undefined;
  }

  get running(): boolean {
    return this.#proc !== undefined && !this.#proc.exited;
  }

  logTail(): string {
    return this.#proc?.tail.join("\n") ?? "";
  }

  /**
   * Spawns the process and waits for readiness; throws (after killing it) when it does not
   * come up.
   */
  async spawn(): Promise<void> {
    const o = this.#o;
    if (this.running) throw new Error(`${o.name}: already running`);
    const proc = new ServiceProcess({
      name: o.name,
      command: o.bin,
      args: o.args,
      env: { ...process.env, ...o.env },
      tailLines: LOG_LINES,
      echo: process.env.NATS_SERVER_LOG === "1"
        ? { prefix: `[${o.name}]`, to: process.stderr, filter: (l) => l || undefined }
        : undefined,
      // Killed even when the test process is (SIGKILL, OOM): a server must not outlive it.
      watchdog: "nats-server",
    });
    this.#proc = proc;
    const deadline = Date.now() + o.readyTimeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      if (proc.exited) {
        const { code, signal, error } = await proc.done;
        const why = error ? error.message : `exited with code ${code} signal ${signal}`;
        throw new Error(`${o.name}: nats-server ${why}\n${this.logTail()}`);
      }
      try {
        const res = await fetch(`${this.monitorUrl}${o.readyPath}`, {
          signal: AbortSignal.timeout(1000),
        });
        const body = await res.text();
        if (res.ok) return;
        last = `${res.status} ${body}`;
      } catch (err) {
        last = String(err);
      }
      await sleep(50);
    }
    await proc.stop("SIGKILL");
    throw new Error(
      `${o.name}: not ready after ${o.readyTimeoutMs} ms (${last})\n${this.logTail()}`,
    );
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    this.#proc?.signal(signal);
  }

  async exited(): Promise<void> {
    await this.#proc?.done;
  }

  async #halt(): Promise<void> {
    await this.#proc?.stop("SIGTERM", 10_000);
  }

  async stop(): Promise<void> {
    await this.#halt();
    if (this.#o.ownsStore) rmSync(this.storeDir, { recursive: true, force: true });
  }

  async restart(): Promise<void> {
    await this.#halt();
    // The port can be briefly unavailable right after exit; retry a few times.
    for (let attempt = 1;; attempt++) {
      try {
        await this.spawn();
        return;
      } catch (err) {
        if (attempt >= 5 || !isPortClash(err)) throw err;
        await sleep(200 * attempt);
      }
    }
  }

  async monitor<T = Record<string, unknown>>(path: string): Promise<T> {
    const res = await fetch(`${this.monitorUrl}${path.startsWith("/") ? path : `/${path}`}`, {
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`${this.#o.name}: GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }
}

/** What a Server runs: the binary, its ports and arguments, and how readiness is asked. */
export interface ServerOptions {
  bin: string;
  port: number;
  monitorPort: number;
  storeDir: string;
  /** The store dir is this helper's: removed on stop. */
  ownsStore: boolean;
  args: string[];
  name: string;
  readyTimeoutMs: number;
  readyPath: string;
  env?: Record<string, string>;
}

/**
 * nats-server on loopback with its client and monitor ports, and JetStream in `storeDir` when
 * one is given: what every server the dev tooling starts has in common.
 */
export function loopbackArgs(port: number, monitorPort: number, storeDir?: string): string[] {
  const args = ["-a", "127.0.0.1", "-p", String(port), "-m", String(monitorPort)];
  if (storeDir !== undefined) args.push("-js", "-sd", storeDir);
  return args;
}

export function mkStore(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function isPortClash(err: unknown): boolean {
  return /address already in use/i.test(String(err));
}

/** Starts one nats-server on loopback (JetStream on by default) and waits until it serves. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = findNatsServer();
  if (!bin) throw new NatsServerMissingError();
  const jetstream = opts.jetstream ?? true;
  const ownsStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? mkStore("jm-nats-");
  // Free ports can be taken by someone else between lookup and bind: retry with new ones.
  for (let attempt = 1;; attempt++) {
    const [p, m] = await freePorts(2);
    const port = opts.port ?? p;
    const monitorPort = opts.monitorPort ?? m;
    const args = [
      ...loopbackArgs(port, monitorPort, jetstream ? storeDir : undefined),
      ...(opts.args ?? []),
    ];
    const srv = new Server({
      bin,
      port,
      monitorPort,
      storeDir,
      ownsStore,
      args,
      name: opts.name ?? `nats:${port}`,
      readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
      readyPath: jetstream ? "/healthz?js-enabled-only=true" : "/healthz",
      env: opts.env,
    });
    try {
      await srv.spawn();
      return srv;
    } catch (err) {
      const fixedPorts = opts.port !== undefined && opts.monitorPort !== undefined;
      if (attempt < 5 && !fixedPorts && isPortClash(err)) continue;
      if (ownsStore) rmSync(storeDir, { recursive: true, force: true });
      throw err;
    }
  }
}

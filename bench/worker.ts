/**
 * The parent side of bench/workers/rpc.ts: fork a worker, call its commands, watch its progress.
 */
import { type ChildProcess, fork } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** Every worker still running; a bench interrupted by an exception must not leave them behind. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

type Reply = { type: "reply"; id: number; result?: unknown; error?: string };
type ProgressMsg = { type: "progress"; id: number; fields: Record<string, unknown> };

export class Worker {
  readonly name: string;
  readonly #child: ChildProcess;
  readonly #pending = new Map<
    number,
    {
      resolve: (v: unknown) => void;
      reject: (e: Error) => void;
      onProgress?: (f: Record<string, unknown>) => void;
    }
  >();
  #next = 1;
  #exited = false;
  readonly #ready: Promise<void>;
  readonly #exit: Promise<void>;

  private constructor(name: string, file: string, env: NodeJS.ProcessEnv) {
    this.name = name;
    this.#child = fork(join(here, "workers", file), [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let ready!: () => void;
    this.#ready = new Promise((resolve) => (ready = resolve));
    this.#child.on("message", (raw) => {
      const m = raw as Reply | ProgressMsg | { type: "ready" };
      if (m.type === "ready") return ready();
      const p = this.#pending.get(m.id);
      if (!p) return;
      if (m.type === "progress") return p.onProgress?.(m.fields);
      this.#pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`${this.name}: ${m.error}`));
      else p.resolve(m.result);
    });
    live.add(this.#child);
    this.#exit = new Promise((resolve) =>
      this.#child.once("exit", (code, signal) => {
        this.#exited = true;
        live.delete(this.#child);
        for (const p of this.#pending.values()) {
          p.reject(new Error(`${this.name} exited (code ${code}, signal ${signal})`));
        }
        this.#pending.clear();
        ready();
        resolve();
      })
    );
  }

  /** Forks bench/workers/<file> and waits until it serves. */
  static async start(name: string, file: string, env: NodeJS.ProcessEnv = {}): Promise<Worker> {
    const w = new Worker(name, file, env);
    await w.#ready;
    if (w.#exited) throw new Error(`${name} exited before it was ready`);
    return w;
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  call<T>(
    cmd: string,
    args: Record<string, unknown> = {},
    onProgress?: (f: Record<string, unknown>) => void,
  ): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      this.#child.send({ id, cmd, args });
    });
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await this.#exit;
    clearTimeout(timer);
  }
}

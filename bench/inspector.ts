/**
 * A client of a Node process's inspector, started with `--inspect=host:port`,
 * for the one thing the bench needs of it: a full garbage collection on
 * demand, so that the process's RSS holds what is live rather than what the
 * collector has not got to yet.
 */
import WebSocket from "ws";

interface Target {
  webSocketDebuggerUrl: string;
}

export class Inspector {
  readonly #ws: WebSocket;
  #next = 1;
  readonly #pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on("message", (raw) => {
      const m = JSON.parse(String(raw)) as { id?: number; error?: { message: string } };
      const p = m.id === undefined ? undefined : this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id!);
      if (m.error) p.reject(new Error(`inspector: ${m.error.message}`));
      else p.resolve();
    });
    ws.on("close", () => {
      for (const p of this.#pending.values()) p.reject(new Error("inspector connection closed"));
      this.#pending.clear();
    });
  }

  /** Connects to the process inspecting on `port`, waiting up to `timeoutMs` for it to listen. */
  static async connect(port: number, timeoutMs = 30_000): Promise<Inspector> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      try {
        const targets =
          (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Target[];
        const ws = new WebSocket(targets[0].webSocketDebuggerUrl, { perMessageDeflate: false });
        await new Promise<void>((resolve, reject) => {
          ws.once("open", () => resolve());
          ws.once("error", reject);
        });
        return new Inspector(ws);
      } catch (err) {
        if (performance.now() > deadline) {
          throw new Error(`no inspector on port ${port}: ${String(err)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** A full, compacting collection of the process's heap. */
  collectGarbage(): Promise<void> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify({ id, method: "HeapProfiler.collectGarbage" }));
    });
  }

  close(): void {
    this.#ws.close();
  }
}

import WebSocket from "ws";
import { unpackValue } from "../../internal/codec/mod.ts";
import type { FuzzFrame } from "./gen.ts";

export type Frame = Record<string, unknown>;

/**
 * What came back for a frame: an answer, or the connection closed (with its code), or nothing in
 * time.
 */
export type Outcome = { frame: Frame } | { closed: number } | { timedOut: true };

/**
 * A WebSocket that hands out what the server sends one frame at a time and
 * keeps nothing it has handed out, so a run of 100,000 frames holds no
 * history (the memory check measures the services, not the fuzzer).
 */
export class FuzzSocket {
  readonly #ws: WebSocket;
  readonly #queue: Frame[] = [];
  #wake: (() => void) | undefined;
  closed: number | undefined;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.#queue.push(
        (isBinary ? unpackValue(new Uint8Array(data)) : JSON.parse(data.toString("utf8"))) as Frame,
      );
      this.#wake?.();
    });
    ws.on("close", (code: number) => {
      this.closed = code;
      this.#wake?.();
    });
    // A close follows every error; the error itself says nothing the close code does not.
    ws.on("error", () => {});
  }

  /** Opens a socket; rejects with the refusal's status when the upgrade is refused. */
  static open(url: string): Promise<FuzzSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once("open", () => resolve(new FuzzSocket(ws)));
      ws.once("unexpected-response", (_req, res) => {
        res.resume();
        reject(new Error(`upgrade refused: ${res.statusCode}`));
      });
      ws.once("error", reject);
    });
  }

  send(f: FuzzFrame): void {
    this.#ws.send(f.payload, { binary: f.binary });
  }

  /**
   * The next frame that `isAnswer` accepts; the others go to `aside` (events, presence
   * changes).
   */
  async next(
    isAnswer: (f: Frame) => boolean,
    aside: (f: Frame) => void,
    timeoutMs: number,
  ): Promise<Outcome> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let f = this.#queue.shift(); f !== undefined; f = this.#queue.shift()) {
        if (isAnswer(f)) return { frame: f };
        aside(f);
      }
      if (this.closed !== undefined) return { closed: this.closed };
      const left = deadline - Date.now();
      if (left <= 0) return { timedOut: true };
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  close(): Promise<void> {
    if (this.closed !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.#ws.once("close", () => resolve());
      this.#ws.close();
    });
  }
}

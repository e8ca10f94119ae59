/**
 * One load-generator connection in any of the bench's protocols (bench/workers/protocols.ts):
 * opened, past its handshake, able to ask and await an answer while other frames flow on.
 */
import WebSocket from "ws";
import type { Protocol } from "./protocols.ts";

function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once(
      "unexpected-response",
      (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
  });
}

/**
 * A connection in `p`'s protocol, open and past its handshake (Centrifugo's connect, Socket.IO's
 * namespace connect). `rest` gets every frame after the handshake that `answers` does not take.
 */
export class Conn {
  /** Set while a command waits for its answer: returns undefined for frames it is not about. */
  answers?: (text: string) => boolean | undefined;
  #answered?: (ok: boolean, text: string) => void;
  /** Until the handshake is done, frames it does not answer (Socket.IO's open packet) are dropped. */
  #greeting = true;

  constructor(readonly ws: WebSocket, rest: (c: Conn, d: Buffer) => void) {
    ws.on("message", (d: Buffer) => {
      const a = this.answers;
      if (a !== undefined) {
        const text = d.toString("utf8");
        const r = a(text);
        if (r !== undefined) {
          this.answers = undefined;
          return this.#answered?.(r, text);
        }
      }
      if (!this.#greeting) rest(this, d);
    });
  }

  /** Sends `frame` and waits for the frame `answers` recognises; throws when it refuses. */
  ask(what: string, frame: string, answers: (text: string) => boolean | undefined) {
    return new Promise<void>((resolve, reject) => {
      this.answers = answers;
      this.#answered = (ok, text) =>
        ok ? resolve() : reject(new Error(`${what}: ${text.slice(0, 300)}`));
      this.ws.send(frame);
    });
  }

  static async open(
    p: Protocol,
    base: string,
    token: string | undefined,
    rest: (c: Conn, d: Buffer) => void,
  ): Promise<Conn> {
    const ws = new WebSocket(p.url(base, token), { perMessageDeflate: false });
    // Listening from the start: Socket.IO's open packet comes before anything is asked.
    const c = new Conn(ws, rest);
    await opened(ws);
    if (p.hello) await c.ask("connect", p.hello(token), p.helloDone!);
    c.#greeting = false;
    return c;
  }
}

/** Answers the protocol's application-level pings, which would otherwise close the connection. */
export function pongs(p: Protocol) {
  return (c: Conn, d: Buffer) => {
    if (p.name === "jetmesh") return;
    const f = p.scan(d);
    if (f.pong !== undefined) c.ws.send(f.pong);
  };
}

import WebSocket from "ws";
import { compareCursors, parseCursor } from "../../subjects/mod.ts";

/**
 * A subscriber that never gives up, at the protocol level: on any close, or
 * when the server ends its subscription, it reconnects and subscribes
 * again after the last cursor it saw. It counts events the server sent at or
 * before that cursor (there should be none) instead of keeping them. Given
 * several URLs (notify replicas behind a balancer), each connection goes to
 * the next one.
 */
export class Follower {
  readonly ids: string[] = [];
  readonly closes: number[] = [];
  last: string | undefined;
  sessions = 0;
  repeats = 0;
  readonly #urls: string[];
  readonly #channel: string;
  #attempts = 0;
  #ws?: WebSocket;
  #stopped = false;

  constructor(url: string | string[], channel: string) {
    this.#urls = typeof url === "string" ? [url] : url;
    this.#channel = channel;
    this.#connect();
  }

  #connect(): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.#urls[this.#attempts++ % this.#urls.length]);
    this.#ws = ws;
    ws.on("open", () => {
      this.sessions++;
      ws.send(
        JSON.stringify(
          this.last === undefined
            ? { op: "sub", channel: this.#channel }
            : { op: "sub", channel: this.#channel, after: this.last },
        ),
      );
    });
    ws.on("message", (data) => {
      const f = JSON.parse(String(data));
      if (f.op === "subscribed") this.last ??= f.cursor;
      if (f.op === "event") {
        if (
          this.last !== undefined &&
          compareCursors(parseCursor(f.cursor)!, parseCursor(this.last)!) <= 0
        ) {
          this.repeats++;
          return;
        }
        this.ids.push(f.id);
        this.last = f.cursor;
      }
      if (f.op === "unsubscribed" && f.code !== undefined) ws.close();
    });
    ws.on("close", (code) => {
      this.closes.push(code);
      setTimeout(() => this.#connect(), 200);
    });
    ws.on("error", () => {});
  }

  async until(count: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.ids.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`follower has ${this.ids.length} of ${count} events`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Drops the connection as a network failure would; it comes back after the last cursor. */
  reconnect(): void {
    this.#ws?.terminate();
  }

  stop(): void {
    this.#stopped = true;
    this.#ws?.close();
  }
}

import WebSocket from "ws";
import { compareCursors, type Cursor, formatCursor, parseCursor } from "../../subjects/mod.ts";
import { backoff } from "./wait.ts";

export interface Delivered {
  id: string;
  cursor: string;
}

export interface SubscriberStats {
  reconnects: number;
  /**
   * Events at or before the subscription's last cursor, dropped as the protocol tells clients
   * to.
   */
  droppedAtCursor: number;
  unavailable: number;
  unexpected: string[];
}

/**
 * A subscriber that resumes: after every disconnect it reconnects and
 * subscribes again with `after` = the last cursor it processed, and drops any
 * event at or before that cursor. Subscriptions may be channels or patterns;
 * what it processed is kept per concrete channel.
 */
export class Subscriber {
  readonly name: string;
  /** Processed events per concrete channel, in arrival order. */
  readonly delivered = new Map<string, Delivered[]>();
  readonly stats: SubscriberStats = {
    reconnects: 0,
    droppedAtCursor: 0,
    unavailable: 0,
    unexpected: [],
  };
  readonly subscriptions: string[];
  /** One per notify replica; each connection goes to the next and resumes from the cursors. */
  readonly #urls: string[];
  #connections = 0;
  /** Last processed position per subscription; set by the first `subscribed`. */
  readonly #cursors = new Map<string, Cursor>();
  #ws?: WebSocket;
  #attempt = 0;
  #closed = false;
  #ready?: () => void;

  constructor(notifyWs: string[], name: string, token: string, subscriptions: string[]) {
    this.name = name;
    this.#urls = notifyWs.map((url) => `${url}?token=${token}`);
    this.subscriptions = subscriptions;
  }

  /**
   * Connects and resolves once every subscription is confirmed: events published from then on
   * are all seen.
   */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve) => (this.#ready = resolve));
    this.#connect();
    return ready;
  }

  close(): void {
    this.#closed = true;
    this.#ws?.terminate();
  }

  #connect(): void {
    if (this.#closed) return;
    const url = this.#urls[this.#connections++ % this.#urls.length];
    const ws = new WebSocket(url, { handshakeTimeout: 3000 });
    this.#ws = ws;
    ws.on("open", () => {
      this.#attempt = 0;
      for (const s of this.subscriptions) this.#subscribe(ws, s);
    });
    ws.on("message", (data: Buffer) => this.#onFrame(ws, JSON.parse(data.toString("utf8"))));
    ws.on("error", () => {}); // a close event follows
    ws.on("close", () => {
      if (this.#closed) return;
      this.stats.reconnects++;
      setTimeout(() => this.#connect(), backoff(this.#attempt++));
    });
  }

  #subscribe(ws: WebSocket, subscription: string): void {
    if (ws !== this.#ws || ws.readyState !== WebSocket.OPEN) return;
    const after = this.#cursors.get(subscription);
    ws.send(
      JSON.stringify({
        op: "sub",
        channel: subscription,
        ...(after ? { after: formatCursor(after) } : {}),
      }),
    );
  }

  #onFrame(ws: WebSocket, f: Record<string, unknown>): void {
    switch (f.op) {
      case "event":
        return this.#onEvent(f);
      case "subscribed": {
        const sub = String(f.channel);
        if (!this.#cursors.has(sub)) this.#cursors.set(sub, parseCursor(f.cursor)!);
        if (this.subscriptions.every((s) => this.#cursors.has(s))) this.#ready?.();
        return;
      }
      case "error":
        // The bus was down when notify set the subscription up; ask again.
        if (
          f.code === "unavailable" && typeof f.id === "string" && this.subscriptions.includes(f.id)
        ) {
          this.stats.unavailable++;
          setTimeout(() => this.#subscribe(ws, f.id as string), backoff(3));
          return;
        }
        break;
      case "unsubscribed":
        // Notify ended the subscription on its own (docs/protocol.md); resume from the cursor.
        if (f.code !== undefined && this.subscriptions.includes(String(f.channel))) {
          this.stats.unavailable++;
          setTimeout(() => this.#subscribe(ws, String(f.channel)), backoff(3));
          return;
        }
    }
    this.stats.unexpected.push(JSON.stringify(f));
  }

  #onEvent(f: Record<string, unknown>): void {
    const channel = String(f.channel);
    const sub = this.subscriptions.find((s) => matches(s, channel));
    const cursor = parseCursor(f.cursor);
    if (!sub || !cursor) {
      this.stats.unexpected.push(JSON.stringify(f));
      return;
    }
    const last = this.#cursors.get(sub);
    if (last && compareCursors(cursor, last) <= 0) {
      this.stats.droppedAtCursor++;
      return;
    }
    this.#cursors.set(sub, cursor);
    let list = this.delivered.get(channel);
    if (!list) this.delivered.set(channel, list = []);
    list.push({ id: String(f.id), cursor: String(f.cursor) });
  }
}

/** Channel pattern match as notify does it: `*` one token, a final `>` one or more. */
export function matches(pattern: string, channel: string): boolean {
  const p = pattern.split(".");
  const c = channel.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return i === p.length - 1 && c.length > i;
    if (i >= c.length || (p[i] !== "*" && p[i] !== c[i])) return false;
  }
  return p.length === c.length;
}

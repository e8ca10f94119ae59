import { backoffDelay } from "./backoff.ts";
import type { ConnectionState, SocketOptions, WebSocketConstructor, WebSocketLike } from "./types.ts";

/** A decoded server frame. */
export type Frame = Record<string, unknown> & { op: string };

export interface ConnectionHandlers {
  /** The socket opened, the first time or again: send everything the server must know. */
  open(): void;
  frame(frame: Frame): void;
  /** The socket was lost; frames sent on it get no answer. It reconnects by itself. */
  lost(): void;
}

/**
 * One WebSocket that comes back: after any loss it reconnects with
 * exponential backoff and jitter until close() is called. JSON text frames.
 */
export class Connection {
  readonly #url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #o: SocketOptions;
  readonly #h: ConnectionHandlers;
  readonly #listeners = new Set<(state: ConnectionState) => void>();
  #state: ConnectionState = "connecting";
  #ws: WebSocketLike | undefined;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(url: string, o: SocketOptions, h: ConnectionHandlers) {
    const WebSocket = o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocket) throw new Error("no global WebSocket (Node 20): pass the WebSocket option, e.g. the `ws` package's");
    // Fail on a malformed URL now rather than retrying it forever.
    this.#url = new URL(url).toString();
    this.#WebSocket = WebSocket;
    this.#o = o;
    this.#h = h;
    this.#connect();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Calls `listener` on every state change until the returned function is called. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sends when open; false otherwise (the caller sends again from `open`). */
  send(frame: object): boolean {
    if (this.#state !== "open" || !this.#ws) return false;
    this.#ws.send(JSON.stringify(frame));
    return true;
  }

  close(): void {
    if (this.#state === "closed") return;
    this.#set("closed");
    clearTimeout(this.#timer);
    this.#ws?.close(1000, "client closed");
    this.#ws = undefined;
  }

  #connect(): void {
    let ws: WebSocketLike;
    try {
      ws = new this.#WebSocket(this.#url);
    } catch {
      return this.#retry();
    }
    this.#ws = ws;
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      this.#attempt = 0;
      this.#set("open");
      this.#h.open();
    };
    ws.onmessage = (ev: { data: unknown }) => {
      if (this.#ws !== ws || typeof ev.data !== "string") return;
      let frame: Frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      this.#h.frame(frame);
    };
    // A close event follows every error.
    ws.onerror = () => {};
    ws.onclose = () => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      // Until the first open the client is still connecting; after it, it is reconnecting.
      if (this.#state === "open") {
        this.#set("reconnecting");
        this.#h.lost();
      }
      this.#retry();
    };
  }

  #retry(): void {
    if (this.#state === "closed") return;
    this.#timer = setTimeout(() => this.#connect(), backoffDelay(this.#attempt++, this.#o.backoff));
  }

  #set(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    for (const listener of [...this.#listeners]) listener(state);
  }
}

/** `url` with query parameters added (those given as undefined are left out). */
export function withQuery(url: string, params: Record<string, string | undefined>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

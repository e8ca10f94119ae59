import { backoffDelay } from "./backoff.ts";
import { TokenSource } from "./token.ts";
import {
  type ConnectionState,
  JetmeshClientError,
  type SocketOptions,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./types.ts";

/** A decoded server frame. */
export type Frame = Record<string, unknown> & { op: string };

/** Close code of a connection whose token expired without being renewed (docs/protocol.md). */
const CLOSE_TOKEN_EXPIRED = 4001;

export interface ConnectionHandlers {
  /** The socket opened, the first time or again: send everything the server must know. */
  open(): void;
  frame(frame: Frame): void;
  /** The socket was lost; frames sent on it get no answer. It reconnects by itself. */
  lost(): void;
  /**
   * Sends `{"op":"auth", token}` on the live socket; resolves with the server's
   * answer (`authed` or an error frame), or undefined when the socket was lost first.
   */
  auth(token: string): Promise<Frame | undefined>;
  /** The connection gave up for good: its token expired or was refused and nothing can renew it. */
  failed(err: JetmeshClientError): void;
}

/**
 * One WebSocket that comes back: after any loss it reconnects with
 * exponential backoff and jitter until close() is called. JSON text frames.
 * It carries the token on the upgrade URL (`?token=`) and renews it on the
 * live socket before it expires, when it has a getToken to renew it with.
 */
export class Connection {
  readonly #url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #o: SocketOptions;
  readonly #h: ConnectionHandlers;
  readonly #tokens: TokenSource;
  readonly #listeners = new Set<(state: ConnectionState) => void>();
  readonly #errorListeners = new Set<(err: JetmeshClientError) => void>();
  #state: ConnectionState = "connecting";
  #ws: WebSocketLike | undefined;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  #renewAttempt = 0;
  /** The server refused or expired the current token: the next connect needs a new one. */
  #tokenRefused = false;
  #failure: JetmeshClientError | undefined;

  constructor(url: string, o: SocketOptions, h: ConnectionHandlers) {
    const WebSocket = o.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!WebSocket) {
      throw new Error(
        "no global WebSocket (Node 20): pass the WebSocket option, e.g. the `ws` package's",
      );
    }
    // Fail on a malformed URL now rather than retrying it forever.
    this.#url = new URL(url).toString();
    this.#WebSocket = WebSocket;
    this.#o = o;
    this.#h = h;
    this.#tokens = new TokenSource(o);
    void this.#connect();
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Why the connection is closed: the token error it gave up on, or `closed` by close(). */
  get closedBy(): JetmeshClientError {
    return this.#failure ?? new JetmeshClientError("closed", "the connection was closed");
  }

  /** Calls `listener` on every state change until the returned function is called. */
  onState(listener: (state: ConnectionState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Calls `listener` with problems that are no single request's: a token the
   * server refused or could not renew, getToken failing. The connection keeps
   * trying unless its state becomes `closed`.
   */
  onError(listener: (err: JetmeshClientError) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
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
    clearTimeout(this.#renewTimer);
    this.#ws?.close(1000, "client closed");
    this.#ws = undefined;
  }

  async #connect(): Promise<void> {
    let token: string | undefined;
    try {
      token = await this.#tokens.forConnect(this.#tokenRefused);
      this.#tokenRefused = false;
    } catch (err) {
      this.#report(err as JetmeshClientError);
      return this.#retry();
    }
    if (this.#state === "closed") return;
    let ws: WebSocketLike;
    try {
      ws = new this.#WebSocket(withQuery(this.#url, { token }));
    } catch {
      return this.#retry();
    }
    this.#ws = ws;
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      this.#attempt = 0;
      this.#set("open");
      this.#scheduleRenew();
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
    // A close event follows every error. Node's `ws` names the HTTP status of a
    // refused upgrade; browsers and Deno hide it, so there only 4001 tells.
    ws.onerror = (ev: { message?: unknown }) => {
      if (this.#ws === ws && /Unexpected server response: 401/.test(String(ev?.message ?? ""))) {
        this.#tokenRefused = true;
      }
    };
    ws.onclose = (ev: { code?: number }) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      clearTimeout(this.#renewTimer);
      if (ev?.code === CLOSE_TOKEN_EXPIRED) this.#tokenRefused = true;
      // Until the first open the client is still connecting; after it, it is reconnecting.
      if (this.#state === "open") {
        this.#set("reconnecting");
        this.#h.lost();
      }
      if (this.#tokenRefused && !this.#tokens.renewable) {
        const why = ev?.code === CLOSE_TOKEN_EXPIRED
          ? "the token expired"
          : "the server refused the token";
        return this.#fail(
          new JetmeshClientError("unauthorized", `${why} and there is no getToken to renew it`),
        );
      }
      this.#retry();
    };
  }

  #retry(): void {
    if (this.#state === "closed") return;
    this.#timer = setTimeout(
      () => void this.#connect(),
      backoffDelay(this.#attempt++, this.#o.backoff),
    );
  }

  /**
   * Renews the token on the live socket when it is due; on failure the server closes with 4001
   * at expiry and the reconnect renews it.
   */
  #scheduleRenew(delay = this.#tokens.dueInMs): void {
    clearTimeout(this.#renewTimer);
    if (delay === undefined) return;
    const ws = this.#ws;
    this.#renewTimer = setTimeout(async () => {
      let answer: Frame | undefined;
      try {
        answer = await this.#h.auth(await this.#tokens.renew());
      } catch (err) {
        this.#report(err as JetmeshClientError);
        if (this.#ws === ws) {
          this.#scheduleRenew(backoffDelay(this.#renewAttempt++, this.#o.backoff));
        }
        return;
      }
      if (this.#ws !== ws || answer === undefined) return;
      if (answer.op === "authed") {
        this.#renewAttempt = 0;
        return this.#scheduleRenew();
      }
      const err = new JetmeshClientError(
        String(answer.code),
        `token renewal refused: ${String(answer.message)}`,
      );
      if (answer.code !== "rate_limited") this.#report(err);
      const wait = typeof answer.retryAfterMs === "number"
        ? answer.retryAfterMs
        : backoffDelay(this.#renewAttempt++, this.#o.backoff);
      this.#scheduleRenew(wait);
    }, delay);
  }

  #report(err: JetmeshClientError): void {
    for (const listener of [...this.#errorListeners]) listener(err);
  }

  #fail(err: JetmeshClientError): void {
    this.#failure = err;
    this.close();
    this.#report(err);
    this.#h.failed(err);
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

/**
 * The one interface between jetmesh and a runtime's HTTP/WebSocket server:
 * uWebSockets.js on Node, Deno.serve on Deno. Services only see these types.
 */

export interface HttpRequest {
  /** Upper-case method, e.g. "GET". */
  method: string;
  path: string;
  query: URLSearchParams;
  /** Header by lower-case name; undefined when absent. */
  header(name: string): string | undefined;
  body: Uint8Array;
  remoteAddress: string;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse> | HttpResponse;

export interface UpgradeRequest {
  path: string;
  query: URLSearchParams;
  header(name: string): string | undefined;
  remoteAddress: string;
}

/** Outcome of a send: sent, queued behind backpressure, or dropped because the socket is closed. */
export type SendResult = "sent" | "buffered" | "closed";

export interface WsConnection<T> {
  /** Per-connection state built by `upgrade`. */
  readonly data: T;
  readonly remoteAddress: string;
  /** A string goes as a text frame, bytes as a binary frame. Safe to call after close. */
  send(message: string | Uint8Array): SendResult;
  /**
   * Sends several messages in order, as one write where the runtime allows; the result is as
   * for the last `send`.
   */
  sendMany(messages: ReadonlyArray<string | Uint8Array>): SendResult;
  /** Bytes queued but not yet written to the socket. */
  bufferedAmount(): number;
  isClosed(): boolean;
  close(code?: number, reason?: string): void;
}

export interface WsHandlers<T> {
  path: string;
  /**
   * Accepts a connection and builds its state; throwing (or rejecting with) a
   * JetmeshError refuses it with that error's HTTP status. It may be async (a
   * token to verify); a client that goes away meanwhile is simply not upgraded.
   */
  upgrade(req: UpgradeRequest): T | Promise<T>;
  open?(conn: WsConnection<T>): void;
  /**
   * `payload` is a copy the handler may keep; `isBinary` tells a binary frame from a text
   * frame.
   */
  message(conn: WsConnection<T>, payload: Uint8Array | string, isBinary: boolean): void;
  /** The send buffer drained below the backpressure limit. */
  drain?(conn: WsConnection<T>): void;
  close(conn: WsConnection<T>, code: number, reason: string): void;
}

export interface ServerOptions<T> {
  host: string;
  /** 0 picks a free port; `RunningServer.port` tells which. */
  port: number;
  /** HTTP bodies above this get 413 with a JSON error. */
  maxBodyBytes: number;
  /**
   * WebSocket frames above this close the connection with 1009. Set it above the
   * application's own frame limit so that ordinary oversized frames can be answered
   * with an error frame instead.
   */
  maxFrameBytes: number;
  /** Seconds without traffic before a WebSocket is closed; 0 disables. */
  idleTimeoutSec: number;
  /** Bytes a connection may queue before `send` answers "buffered". */
  maxBackpressureBytes: number;
  /** Keyed "METHOD /path", e.g. "GET /healthz". */
  routes: Record<string, HttpHandler>;
  ws?: WsHandlers<T>;
  /**
   * Called with an error an HTTP or upgrade handler threw that was answered with
   * 500 "internal" (JetmeshErrors with other codes are expected and not reported);
   * `where` is e.g. "GET /healthz". Defaults to console.error.
   */
  onError?(err: unknown, where: string): void;
}

export interface RunningServer {
  port: number;
  /** Stops accepting new connections and requests; open WebSockets stay. */
  stopListening(): void;
  /** Closes every WebSocket with `code` (default 1001, going away) and stops listening. */
  close(code?: number, reason?: string): Promise<void>;
}

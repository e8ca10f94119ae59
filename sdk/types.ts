/** Values the SDK hands to applications, and what it needs from its environment. */
import type { TokenOptions } from "./token.ts";

/** `connecting` until the first open, `reconnecting` after a loss, `closed` after close(). */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** Ingest's answer once an event is stored. */
export interface Ack {
  /** The client id the event was published with. */
  id: string;
  /** Its INGEST stream sequence. */
  seq: number;
  /** True when it had been stored before: a resend after a lost ack. */
  dup: boolean;
}

export interface JetmeshEvent {
  /** The concrete channel, also when the subscription is a pattern. */
  channel: string;
  /** Position in the event stream; pass it as `after` to resume after this event. */
  cursor: string;
  /** `<publisher>:<client id>`. */
  id: string;
  /** When ingest received it, ms since the Unix epoch. */
  ts: number;
  data: unknown;
}

/**
 * Codes an application branches on; the server may send others (docs/protocol.md).
 * `unauthorized`: no valid token (missing, expired, refused, getToken failed);
 * `forbidden`: the token does not allow this on this channel;
 * `closed`: the client was closed first.
 */
export type ClientErrorCode =
  | "unauthorized"
  | "forbidden"
  | "rate_limited"
  | "closed"
  | (string & Record<never, never>);

/**
 * A refusal from the server (`code` from docs/protocol.md), or `closed` when the client was
 * closed first.
 */
export class JetmeshClientError extends Error {
  readonly code: ClientErrorCode;

  constructor(code: ClientErrorCode, message: string) {
    super(message);
    this.name = "JetmeshClientError";
    this.code = code;
  }
}

/**
 * The part of the browser WebSocket API the SDK uses; Deno's global WebSocket
 * and the `ws` package's class on Node have it. Handlers take `any` because
 * each implementation declares its own event classes, and those parameter
 * types would otherwise make none of them fit.
 */
export interface WebSocketLike {
  // deno-lint-ignore no-explicit-any
  onopen: ((ev: any) => void) | null;
  // deno-lint-ignore no-explicit-any
  onmessage: ((ev: any) => void) | null;
  // deno-lint-ignore no-explicit-any
  onclose: ((ev: any) => void) | null;
  // deno-lint-ignore no-explicit-any
  onerror: ((ev: any) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Reconnect delays: exponential from `initialMs`, capped at `maxMs`, with jitter. */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
}

/** What every connection of the SDK accepts. */
export interface SocketOptions extends TokenOptions {
  /** Defaults to the global WebSocket (browsers, Deno); on Node 20 pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  backoff?: BackoffOptions;
}

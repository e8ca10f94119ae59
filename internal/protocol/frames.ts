import type { ErrorCode } from "../errors/mod.ts";

/** WebSocket protocol v1: what clients send. */
export interface PubFrame {
  op: "pub";
  /** Client id; absent means ingest assigns one and retries are not deduplicated. */
  id?: string;
  channel: string;
  data: unknown;
  /** W3C traceparent of the publisher's span, when it traces. */
  traceparent?: string;
}

export interface SubFrame {
  op: "sub";
  /** A channel or a pattern (`chat.*`, `iot.>`). */
  channel: string;
  /** Resume strictly after this cursor. */
  after?: string;
}

export interface UnsubFrame {
  op: "unsub";
  channel: string;
}

/** Enter a channel's presence as `member` (one member per channel per connection). */
export interface JoinFrame {
  op: "join";
  channel: string;
  member: string;
}

export interface LeaveFrame {
  op: "leave";
  channel: string;
}

/** Who is in a channel; `watch: true` also streams changes, `watch: false` stops them. */
export interface PresenceQueryFrame {
  op: "presence";
  channel: string;
  watch?: boolean;
}

/**
 * A fresh token for a live connection, sent before the current one expires;
 * it must name the same `sub`. Answered with `authed`, or an error (the
 * connection keeps its current token until that expires).
 */
export interface AuthFrame {
  op: "auth";
  token: string;
}

export type SubscriberFrame =
  | SubFrame
  | UnsubFrame
  | JoinFrame
  | LeaveFrame
  | PresenceQueryFrame
  | AuthFrame;

/** What servers send. */
export interface AckFrame {
  op: "ack";
  id: string;
  /** INGEST stream sequence; for a duplicate, the original's. */
  seq: number;
  dup: boolean;
}

export interface SubscribedFrame {
  op: "subscribed";
  channel: string;
  /** Position the subscription starts after. */
  cursor: string;
}

/**
 * The answer to `unsub`; with `code` and `message`, the server ended the subscription
 * (resubscribe from the last cursor).
 */
export interface UnsubscribedFrame {
  op: "unsubscribed";
  channel: string;
  code?: ErrorCode;
  message?: string;
}

export interface EventFrame {
  op: "event";
  /**
   * The pattern of the subscription that delivered it; absent for a subscription to one
   * channel.
   */
  sub?: string;
  channel: string;
  cursor: string;
  id: string;
  ts: number;
  data: unknown;
}

export interface ErrorFrame {
  op: "error";
  /** The client id or channel of the frame this answers, when it had one. */
  id?: string;
  code: ErrorCode;
  message: string;
  /** With `rate_limited`: milliseconds until a retry can pass. */
  retryAfterMs?: number;
}

/** The answer to `auth`: the connection now runs on the new token, until `expiresAt` (epoch ms). */
export interface AuthedFrame {
  op: "authed";
  sub: string;
  expiresAt: number;
}

export interface JoinedFrame {
  op: "joined";
  channel: string;
  member: string;
}

export interface LeftFrame {
  op: "left";
  channel: string;
}

export interface PresenceFrame {
  op: "presence";
  channel: string;
  /** Sorted member ids. */
  members: string[];
}

/** A member appeared in or disappeared from a watched channel. */
export interface MemberFrame {
  op: "member_joined" | "member_left";
  channel: string;
  member: string;
}

export type ServerFrame =
  | AckFrame
  | SubscribedFrame
  | UnsubscribedFrame
  | EventFrame
  | ErrorFrame
  | AuthedFrame
  | JoinedFrame
  | LeftFrame
  | PresenceFrame
  | MemberFrame;

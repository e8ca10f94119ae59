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

export type ClientFrame = PubFrame | SubFrame | UnsubFrame;

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

export interface UnsubscribedFrame {
  op: "unsubscribed";
  channel: string;
}

export interface EventFrame {
  op: "event";
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
}

export type ServerFrame = AckFrame | SubscribedFrame | UnsubscribedFrame | EventFrame | ErrorFrame;

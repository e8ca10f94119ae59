import type { MsgHdrs } from "@nats-io/transport-node";
import { type Cursor, type Envelope, formatCursor } from "../../subjects/mod.ts";
import { encodeFrame, type Encoding } from "../codec/mod.ts";
import type { EventFrame } from "../protocol/mod.ts";

/**
 * Where an event came from on EVENTS, for its delivery span; absent for one read from
 * PostgreSQL.
 */
export interface StreamOrigin {
  subject: string;
  deliveryCount: number;
  /** The trace context route put on the message. */
  headers?: MsgHdrs;
}

/**
 * One event on its way to subscribers. The frame is the same for every
 * subscriber of a channel, so it is encoded at most once per encoding (and
 * per pattern, for the `sub` tag of wildcard subscriptions) however many
 * subscribers it has.
 */
export class OutEvent {
  readonly seq: number;
  readonly frame: EventFrame;
  readonly origin?: StreamOrigin;
  #json?: string;
  #msgpack?: Uint8Array;
  /** Encodings with a `sub` tag, by encoding and pattern. */
  #tagged?: Map<string, string | Uint8Array>;

  constructor(frame: EventFrame, seq: number, origin?: StreamOrigin) {
    this.frame = frame;
    this.seq = seq;
    this.origin = origin;
  }

  static fromEnvelope(env: Envelope, cursor: Cursor, origin?: StreamOrigin): OutEvent {
    const frame: EventFrame = {
      op: "event",
      channel: env.channel,
      cursor: formatCursor(cursor),
      id: env.id,
      ts: env.ts,
      data: env.data,
    };
    return new OutEvent(frame, cursor.seq, origin);
  }

  /** The frame encoded; `sub` tags it with a wildcard subscription's pattern. */
  encoded(enc: Encoding, sub?: string): string | Uint8Array {
    if (sub !== undefined) {
      const key = `${enc} ${sub}`;
      this.#tagged ??= new Map();
      let out = this.#tagged.get(key);
      if (out === undefined) this.#tagged.set(key, out = encodeFrame({ ...this.frame, sub }, enc));
      return out;
    }
    if (enc === "json") return (this.#json ??= encodeFrame(this.frame, "json") as string);
    return (this.#msgpack ??= encodeFrame(this.frame, "msgpack") as Uint8Array);
  }
}

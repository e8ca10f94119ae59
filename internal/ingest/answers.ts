import { encodeFrame, type Encoding } from "../codec/mod.ts";
import type { ServerFrame } from "../protocol/mod.ts";
import type { WsConnection } from "../wsserver/mod.ts";

/** Where a connection's answers wait for the end of the turn. */
export interface Answering {
  answers?: Array<string | Uint8Array>;
  /** The encoding of the last answer queued, for a frame that follows them (slow consumer). */
  answersEncoding?: Encoding;
}

/**
 * Sends each connection's answers of one event-loop turn together: the
 * PubAcks of a burst resolve in one turn, and their acks then leave in one
 * write per connection (uWS corks a `sendMany`), not in one syscall each.
 * Nothing waits longer than the turn: a lone answer goes at the next check
 * phase, before any timer or further I/O. Order per connection is kept.
 *
 * A crash before the flush loses answers whose events are in INGEST already,
 * as a crash right after the PubAck always could: the client resends them
 * with the same ids and the duplicate window drops the copies.
 *
 * `sent` is called after each flush that did not find the connection closed
 * (the slow-consumer check), with the encoding of its last answer. `flush`
 * sends a connection's waiting answers at once: before it is closed, so the
 * answers that led to the close (rate-limit refusals) still reach the client.
 */
export function answerer<T extends Answering>(
  sent: (conn: WsConnection<T>, enc: Encoding) => void,
): {
  reply: (conn: WsConnection<T>, frame: ServerFrame, enc: Encoding) => void;
  flush: (conn: WsConnection<T>) => void;
} {
  let waiting: Array<WsConnection<T>> = [];
  const flush = (conn: WsConnection<T>) => {
    const frames = conn.data.answers;
    if (frames === undefined) return;
    conn.data.answers = undefined;
    if (conn.sendMany(frames) !== "closed") sent(conn, conn.data.answersEncoding ?? "json");
  };
  const flushAll = () => {
    const conns = waiting;
    waiting = [];
    for (const conn of conns) flush(conn);
  };
  const reply = (conn: WsConnection<T>, frame: ServerFrame, enc: Encoding) => {
    const bytes = encodeFrame(frame, enc);
    conn.data.answersEncoding = enc;
    if (conn.data.answers) return void conn.data.answers.push(bytes);
    conn.data.answers = [bytes];
    if (waiting.push(conn) === 1) setImmediate(flushAll);
  };
  return { reply, flush };
}

/**
 * Resolves once every answer queued so far has been sent: the flush of a turn runs in the next
 * check phase, and check-phase callbacks run in the order they were queued. A graceful stop
 * awaits it before closing the sockets, or the close would go out before the last acks.
 */
export function answersSent(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

import { encodeFrame, type Encoding } from "../codec/mod.ts";
import type { ServerFrame } from "../protocol/mod.ts";
import type { SendResult, WsConnection } from "../wsserver/mod.ts";
import type { EventSink } from "./subscription-deps.ts";

/** WebSocket close code for a subscriber that reads too slowly (4000–4999 are for applications). */
const SLOW_CONSUMER_CLOSE_CODE = 4008;

export interface OutboxLimits {
  /** Queued bytes above which subscriptions stop pulling until the socket drains. */
  pauseBytes: number;
  /** Queued bytes above which the connection is closed as a slow consumer. */
  closeBytes: number;
  /** How long subscriptions may stay paused before the connection is closed as a slow consumer. */
  maxPauseMs: number;
}

/**
 * Everything notify sends on one connection goes through here, so one place
 * bounds its memory. Subscriptions pause above `pauseBytes` and resume on
 * drain; a client that stays paused past `maxPauseMs`, or lets the queue grow
 * past `closeBytes` (frames sent without waiting, such as answers and presence
 * changes, can), is told why and closed with 4008. It loses nothing: it
 * resumes from the last cursor it received.
 */
export class Outbox implements EventSink {
  readonly #conn: WsConnection<unknown>;
  readonly #limits: OutboxLimits;
  /** Made when a subscription first waits. */
  #waiting?: Array<() => void>;
  #pauseTimer: ReturnType<typeof setTimeout> | undefined;
  #lastEncoding: Encoding = "json";

  constructor(conn: WsConnection<unknown>, limits: OutboxLimits) {
    this.#conn = conn;
    this.#limits = limits;
  }

  send(frame: ServerFrame, enc: Encoding): SendResult {
    return this.sendEncoded([encodeFrame(frame, enc)], enc);
  }

  /** Frames encoded already (events, encoded once for all their subscribers), in one write. */
  sendEncoded(frames: ReadonlyArray<string | Uint8Array>, enc: Encoding): SendResult {
    this.#lastEncoding = enc;
    const r = frames.length === 1 ? this.#conn.send(frames[0]) : this.#conn.sendMany(frames);
    if (r !== "closed" && this.#conn.bufferedAmount() > this.#limits.closeBytes) {
      this.#closeSlow(`more than ${this.#limits.closeBytes} bytes were waiting to be sent`);
      return "closed";
    }
    return r;
  }

  /** Resolves when the queue is at or below `pauseBytes` again, or the connection closed. */
  writable(): Promise<void> {
    if (this.#conn.isClosed() || this.#conn.bufferedAmount() <= this.#limits.pauseBytes) {
      return Promise.resolve();
    }
    this.#pauseTimer ??= setTimeout(
      () =>
        this.#closeSlow(
          `the connection stayed over ${this.#limits.pauseBytes} queued bytes for ${this.#limits.maxPauseMs} ms`,
        ),
      this.#limits.maxPauseMs,
    );
    return new Promise((resolve) => (this.#waiting ??= []).push(resolve));
  }

  /** The socket drained (or closed): wake paused subscriptions. */
  drained(): void {
    if (!this.#conn.isClosed() && this.#conn.bufferedAmount() > this.#limits.pauseBytes) return;
    clearTimeout(this.#pauseTimer);
    this.#pauseTimer = undefined;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    for (const wake of waiting ?? []) wake();
  }

  #closeSlow(why: string): void {
    if (this.#conn.isClosed()) return;
    const message =
      `slow consumer: ${why}; reconnect and resubscribe with the last cursor you received`;
    this.#conn.send(
      encodeFrame({ op: "error", code: "slow_consumer", message }, this.#lastEncoding),
    );
    this.#conn.close(SLOW_CONSUMER_CLOSE_CODE, "slow consumer");
    this.drained();
  }
}

import { DeliverPolicy, type ConsumerMessages, type JetStreamClient } from "@nats-io/jetstream";
import { decodeEnvelope, EVENTS_STREAM, eventsSubject, formatCursor } from "../../subjects/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { EventFrame } from "../protocol/mod.ts";
import type { SendResult } from "../wsserver/mod.ts";
import type { StartPoint } from "./start.ts";

/** Where a subscription's events go: one subscriber connection. */
export interface EventSink {
  send(frame: EventFrame): SendResult;
  /** Resolves once the connection's send buffer is below its limit again (or it closed). */
  writable(): Promise<void>;
}

/**
 * One subscription: an ordered consumer on EVENTS filtered to the channel (or
 * pattern), starting at a stream sequence. Replay and live are the same
 * consumer, so there is no switch-over at which an event could be lost or
 * repeated; the ordered consumer itself recovers from gaps by recreating at the
 * next expected sequence. Nothing is acked: the subscriber's cursor is the state.
 */
export class Subscription {
  readonly pattern: string;
  readonly #js: JetStreamClient;
  readonly #start: StartPoint;
  readonly #sink: EventSink;
  readonly #log: Logger;
  #messages?: ConsumerMessages;
  #stopped = false;

  constructor(js: JetStreamClient, pattern: string, start: StartPoint, sink: EventSink, log: Logger) {
    this.pattern = pattern;
    this.#js = js;
    this.#start = start;
    this.#sink = sink;
    this.#log = log;
  }

  /** Creates the consumer; events start flowing once `run` is called. */
  async open(): Promise<void> {
    const consumer = await this.#js.consumers.get(EVENTS_STREAM, {
      filter_subjects: eventsSubject(this.pattern),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#start.fromSeq,
    });
    this.#messages = await consumer.consume({ max_messages: 256 });
    if (this.#stopped) this.#messages.stop();
  }

  /** Pumps events to the sink until stopped; waits for the socket to drain instead of buffering without bound. */
  async run(): Promise<void> {
    const messages = this.#messages;
    if (!messages) throw new Error("subscription not opened");
    for await (const m of messages) {
      if (this.#stopped) break;
      let frame: EventFrame;
      try {
        const env = decodeEnvelope(m.data);
        frame = {
          op: "event",
          channel: env.channel,
          cursor: formatCursor({ epoch: this.#start.epoch, seq: m.info.streamSequence }),
          id: env.id,
          ts: env.ts,
          data: env.data,
        };
      } catch (err) {
        this.#log.error("undecodable event skipped", { err, seq: m.info.streamSequence });
        continue;
      }
      const r = this.#sink.send(frame);
      if (r === "closed") break;
      if (r === "buffered") await this.#sink.writable();
    }
    this.stop();
  }

  stop(): void {
    this.#stopped = true;
    this.#messages?.stop();
  }
}

import { type ConsumerMessages, DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { decodeEnvelope, EVENTS_STREAM, eventsSubject, formatCursor } from "../../subjects/mod.ts";
import { backoffMs, sleep } from "../bus/mod.ts";
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
 * Signs that the server lost the ordered consumer (a nats-server restart, the
 * node holding it died). nats.js 3.4 recreates the consumer itself on these,
 * but keeps counting the lost pull's messages as pending and so never pulls
 * again: the subscription would stall with its socket open. The subscription
 * replaces the consumer itself instead.
 */
const CONSUMER_LOST = new Set(["consumer_not_found", "consumer_deleted", "reset", "heartbeats_missed", "no_responders"]);

/**
 * One subscription: an ordered consumer on EVENTS filtered to the channel (or
 * pattern), starting at a stream sequence. Replay and live are the same
 * consumer, so there is no switch-over at which an event could be lost or
 * repeated. When the consumer is lost it is replaced by one starting right
 * after the last event handed to the sink, so nothing is skipped or repeated
 * across the replacement either. Nothing is acked: the subscriber's cursor is
 * the state.
 */
export class Subscription {
  readonly pattern: string;
  readonly #js: JetStreamClient;
  readonly #epoch: number;
  readonly #sink: EventSink;
  readonly #log: Logger;
  /** Stream sequence of the next event to hand to the sink. */
  #next: number;
  #messages?: ConsumerMessages;
  #stopped = false;

  constructor(js: JetStreamClient, pattern: string, start: StartPoint, sink: EventSink, log: Logger) {
    this.pattern = pattern;
    this.#js = js;
    this.#epoch = start.epoch;
    this.#next = start.fromSeq;
    this.#sink = sink;
    this.#log = log;
  }

  /** Creates the consumer; events start flowing once `run` is called. */
  async open(): Promise<void> {
    this.#messages = await this.#consume();
    if (this.#stopped) this.#messages.stop();
  }

  async #consume(): Promise<ConsumerMessages> {
    const consumer = await this.#js.consumers.get(EVENTS_STREAM, {
      filter_subjects: eventsSubject(this.pattern),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#next,
    });
    // Heartbeats every 5 s, so a consumer lost without a reconnect is noticed within 10 s.
    const messages = await consumer.consume({ max_messages: 256, expires: 10_000 });
    (async () => {
      for await (const s of messages.status()) {
        if (CONSUMER_LOST.has(s.type)) {
          this.#log.info("ordered consumer lost, replacing it", { pattern: this.pattern, status: s.type, next_seq: this.#next });
          messages.stop();
          return;
        }
      }
    })().catch(() => {});
    return messages;
  }

  /** Pumps events to the sink until stopped; waits for the socket to drain instead of buffering without bound. */
  async run(): Promise<void> {
    let messages = this.#messages;
    if (!messages) throw new Error("subscription not opened");
    while (messages && !this.#stopped) {
      if (await this.#pump(messages) === "closed") break;
      messages = this.#messages = await this.#replace();
    }
    this.stop();
  }

  /** Delivers until the consumer ends (stopped, or lost) or the connection closes. */
  async #pump(messages: ConsumerMessages): Promise<"ended" | "closed"> {
    for await (const m of messages) {
      if (this.#stopped) return "closed";
      const seq = m.info.streamSequence;
      // The cursor only moves forward, whatever a replaced consumer hands over.
      if (seq < this.#next) continue;
      this.#next = seq + 1;
      let frame: EventFrame;
      try {
        const env = decodeEnvelope(m.data);
        frame = {
          op: "event",
          channel: env.channel,
          cursor: formatCursor({ epoch: this.#epoch, seq }),
          id: env.id,
          ts: env.ts,
          data: env.data,
        };
      } catch (err) {
        this.#log.error("undecodable event skipped", { err, seq });
        continue;
      }
      const r = this.#sink.send(frame);
      if (r === "closed") return "closed";
      if (r === "buffered") await this.#sink.writable();
    }
    return "ended";
  }

  /** A new consumer from the next undelivered sequence, retried while the bus is away. */
  async #replace(): Promise<ConsumerMessages | undefined> {
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        return await this.#consume();
      } catch (err) {
        if (attempt % 10 === 0) this.#log.warn("ordered consumer not available yet", { err, pattern: this.pattern, attempt });
        await sleep(backoffMs(attempt, 100, 2000));
      }
    }
    return undefined;
  }

  stop(): void {
    this.#stopped = true;
    this.#messages?.stop();
  }
}

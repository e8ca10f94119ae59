import { type ConsumerMessages, DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { decodeEnvelope, EVENTS_STREAM, eventsSubject, formatCursor } from "../../subjects/mod.ts";
import { backoffMs, sleep } from "../bus/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { EventFrame } from "../protocol/mod.ts";
import { ATTR, endSpan, SpanKind, type Tracing } from "../telemetry/mod.ts";
import type { SendResult } from "../wsserver/mod.ts";
import type { NotifyMetrics } from "./metrics.ts";
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

/** What a subscription reports to: logs, metrics, and (when on) traces. */
export interface SubscriptionObservers {
  log: Logger;
  metrics: NotifyMetrics;
  tracing?: Tracing;
}

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
  readonly #obs: SubscriptionObservers;
  /** Events received at ingest before this are replays: their age is not delivery latency. */
  readonly #openedAt = Date.now();
  /** Stream sequence of the next event to hand to the sink. */
  #next: number;
  #messages?: ConsumerMessages;
  #stopped = false;

  constructor(js: JetStreamClient, pattern: string, start: StartPoint, sink: EventSink, obs: SubscriptionObservers) {
    this.pattern = pattern;
    this.#js = js;
    this.#epoch = start.epoch;
    this.#next = start.fromSeq;
    this.#sink = sink;
    this.#log = obs.log;
    this.#obs = obs;
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
    const { metrics, tracing } = this.#obs;
    for await (const m of messages) {
      if (this.#stopped) return "closed";
      const seq = m.info.streamSequence;
      // The cursor only moves forward, whatever a replaced consumer hands over.
      if (seq < this.#next) continue;
      this.#next = seq + 1;
      metrics.received.inc();
      // One delivery span per subscription, child of route's span: the event's trace shows every subscriber it reached.
      const span = tracing?.startFromHeaders("notify deliver", SpanKind.CONSUMER, m.headers, {
        [ATTR.messagingSystem]: "nats",
        [ATTR.operation]: "deliver",
        [ATTR.destination]: m.subject,
        [ATTR.stream]: EVENTS_STREAM,
        [ATTR.streamSeq]: seq,
        [ATTR.deliveryCount]: m.info.deliveryCount,
        [ATTR.subscription]: this.pattern,
      });
      let frame: EventFrame;
      try {
        const env = decodeEnvelope(m.data);
        span?.setAttribute(ATTR.eventId, env.id);
        span?.setAttribute(ATTR.channel, env.channel);
        frame = {
          op: "event",
          channel: env.channel,
          cursor: formatCursor({ epoch: this.#epoch, seq }),
          id: env.id,
          ts: env.ts,
          data: env.data,
        };
      } catch (err) {
        this.#log.error("undecodable event skipped", { err, seq, trace_id: span?.spanContext().traceId });
        endSpan(span, err);
        continue;
      }
      const r = this.#sink.send(frame);
      if (r === "closed") {
        endSpan(span, "subscriber connection closed");
        return "closed";
      }
      metrics.delivered.inc();
      if (frame.ts >= this.#openedAt) metrics.publishToDeliver.observe((Date.now() - frame.ts) / 1000);
      endSpan(span);
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

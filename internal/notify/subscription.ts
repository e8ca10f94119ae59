import { type ConsumerMessages, DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import { type Cursor, decodeEnvelope, EVENTS_STREAM, eventsSubject, formatCursor, isWildcard } from "../../subjects/mod.ts";
import { backoffMs, isRetryable, sleep } from "../bus/mod.ts";
import { errorCode } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { EventFrame } from "../protocol/mod.ts";
import type { Store } from "../store/mod.ts";
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

export interface SubscriptionDeps {
  js: JetStreamClient;
  store: Pick<Store, "replay">;
  /** The EVENTS stream's first sequence now. */
  firstSeq: () => Promise<number>;
  log: Logger;
  metrics: NotifyMetrics;
  /** Set when tracing is on. */
  tracing?: Tracing;
}

/** Rows per PostgreSQL query while replaying beyond the stream's retention. */
const STORE_PAGE = 500;
/**
 * A message stored this close to its expiry may have neighbours that expired
 * before the consumer read them. Covers clock skew between nats-server and
 * notify and the time a pull takes.
 */
const EXPIRY_MARGIN_MS = 5000;
/**
 * Signs that the server lost the ordered consumer (a nats-server restart, the
 * node holding it died). nats.js 3.4 recreates the consumer itself on these,
 * but keeps counting the lost pull's messages as pending and so never pulls
 * again: the subscription would stall with its socket open. The subscription
 * replaces the consumer itself instead.
 */
const CONSUMER_LOST = new Set(["consumer_not_found", "consumer_deleted", "reset", "heartbeats_missed", "no_responders"]);

/**
 * One subscription: replay from PostgreSQL for what EVENTS no longer holds,
 * then an ordered consumer on EVENTS filtered to the channel (or pattern).
 *
 * Every event is delivered once, in cursor order: the PostgreSQL phase ends
 * strictly below the sequence the consumer starts at. Events that expire
 * after that point but before the consumer reads them show up as a jump in
 * stream sequences; when expiry is possible there (the first read of a
 * resumed subscription, or a previous message close to its max age) the
 * stream's first sequence is checked and the expired range is read from
 * PostgreSQL before the message that follows it. A jump is otherwise normal:
 * the sequences in between belong to other channels.
 *
 * A consumer the server lost is replaced by one starting right after the last
 * event handed to the sink. Outages of the bus or the database pause the
 * subscription; it goes on when they are back. Nothing is acked: the
 * subscriber's cursor is the state.
 */
export class Subscription {
  readonly pattern: string;
  readonly #deps: SubscriptionDeps;
  readonly #start: StartPoint;
  readonly #sink: EventSink;
  readonly #tagged: boolean;
  readonly #abort = new AbortController();
  /** Events received at ingest before this are replays: their age is not delivery latency. */
  readonly #openedAt = Date.now();
  #messages?: ConsumerMessages;
  #stopped = false;

  constructor(deps: SubscriptionDeps, pattern: string, start: StartPoint, sink: EventSink) {
    this.pattern = pattern;
    this.#deps = deps;
    this.#start = start;
    this.#sink = sink;
    this.#tagged = isWildcard(pattern);
  }

  /** Creates the consumer, so a bus failure is reported before `subscribed`; events flow once `run` is called. */
  async open(): Promise<void> {
    this.#messages = await this.#consume(this.#start.fromSeq);
  }

  /** Pumps events to the sink until stopped or the connection closes; throws only what retrying cannot fix. */
  async run(): Promise<void> {
    try {
      const s = this.#start;
      if (s.fromStore && !(await this.#fromStore(s.after, { epoch: s.epoch, seq: s.fromSeq }))) return;
      await this.#fromStream();
    } finally {
      this.stop();
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#abort.abort();
    this.#messages?.stop();
  }

  /**
   * Replaces the consumer at the next expected sequence. Called when NATS
   * reconnects, rather than waiting for the lost consumer's status (up to a
   * pull's expiry).
   */
  restart(): void {
    this.#messages?.stop();
  }

  async #consume(fromSeq: number): Promise<ConsumerMessages> {
    const consumer = await this.#deps.js.consumers.get(EVENTS_STREAM, {
      filter_subjects: eventsSubject(this.pattern),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: fromSeq,
    });
    // Heartbeats every 5 s, so a consumer lost without a reconnect is noticed within 10 s.
    const messages = await consumer.consume({ max_messages: 256, expires: 10_000 });
    if (this.#stopped) messages.stop();
    (async () => {
      for await (const s of messages.status()) {
        if (!CONSUMER_LOST.has(s.type)) continue;
        this.#deps.log.info("ordered consumer lost, replacing it", { pattern: this.pattern, status: s.type });
        messages.stop();
        return;
      }
    })().catch(() => {});
    return messages;
  }

  /** Replays stored events strictly between two cursors; false when delivery must end. */
  async #fromStore(after: Cursor, before: Cursor): Promise<boolean> {
    for (let from = after;;) {
      const page = from;
      const rows = await this.#retrying("replay from PostgreSQL", () => this.#deps.store.replay(this.pattern, page, before, STORE_PAGE));
      for (const row of rows) {
        const frame: EventFrame = { op: "event", channel: row.channel, cursor: formatCursor(row.cursor), id: row.eventId, ts: row.receivedAt, data: row.data };
        if (!(await this.#deliver(frame))) return false;
      }
      if (rows.length < STORE_PAGE) return true;
      from = rows[rows.length - 1].cursor;
    }
  }

  async #fromStream(): Promise<void> {
    const { epoch } = this.#start;
    let next = this.#start.fromSeq;
    // Unknown for the first message: then only a resumed subscription can have missed anything.
    let previousStoredAt: number | undefined;
    while (!this.#stopped) {
      const messages = this.#messages ?? (await this.#replace(next));
      if (!messages) return;
      this.#messages = messages;
      for await (const m of messages) {
        if (this.#stopped) return;
        const seq = m.info.streamSequence;
        // The cursor only moves forward, whatever a replaced consumer hands over.
        if (seq < next) continue;
        if (seq > next && this.#mayHaveExpired(previousStoredAt)) {
          const first = await this.#retrying("stream info", () => this.#deps.firstSeq());
          if (first > next) {
            const before = { epoch, seq: Math.min(first, seq) };
            this.#deps.log.debug("events expired under a subscription, reading them from PostgreSQL", { pattern: this.pattern, from: next, before: before.seq });
            if (!(await this.#fromStore({ epoch, seq: next - 1 }, before))) return;
          }
        }
        next = seq + 1;
        previousStoredAt = m.info.timestampNanos / 1e6;
        if (!(await this.#deliverMessage(m))) return;
      }
      // Ended by stop(), restart() or a lost consumer; unless stopped, a new consumer continues at `next`.
      this.#messages = undefined;
    }
  }

  /** A new consumer from the next undelivered sequence, retried while the bus is away; undefined once stopped. */
  async #replace(next: number): Promise<ConsumerMessages | undefined> {
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        return await this.#consume(next);
      } catch (err) {
        if (attempt % 10 === 0) this.#deps.log.warn("ordered consumer not available yet", { err, pattern: this.pattern, attempt });
        await sleep(backoffMs(attempt, 100, 2000), this.#abort.signal);
      }
    }
    return undefined;
  }

  /** Runs `fn` until it succeeds, waiting out outages of the bus or the database; throws other errors. */
  async #retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const transient = isRetryable(err) || errorCode(err) === "unavailable";
        if (!transient || this.#stopped) throw err;
        if (attempt % 10 === 0) this.#deps.log.warn(`${what} failed, retrying`, { err, pattern: this.pattern, attempt });
        await sleep(backoffMs(attempt, 100, 2000), this.#abort.signal);
      }
    }
  }

  #mayHaveExpired(previousStoredAt: number | undefined): boolean {
    if (previousStoredAt === undefined) return this.#start.resumed;
    const maxAge = this.#start.maxAgeMs;
    return maxAge > 0 && previousStoredAt + maxAge - EXPIRY_MARGIN_MS <= Date.now();
  }

  /** Delivers one live event; false once delivery must end. An undecodable event is logged and skipped. */
  async #deliverMessage(m: JsMsg): Promise<boolean> {
    const { metrics, tracing } = this.#deps;
    const seq = m.info.streamSequence;
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
        cursor: formatCursor({ epoch: this.#start.epoch, seq }),
        id: env.id,
        ts: env.ts,
        data: env.data,
      };
    } catch (err) {
      this.#deps.log.error("undecodable event skipped", { err, seq, trace_id: span?.spanContext().traceId });
      endSpan(span, err);
      return true;
    }
    const delivered = await this.#deliver(frame);
    if (!delivered) {
      endSpan(span, "subscriber connection closed");
      return false;
    }
    metrics.delivered.inc();
    if (frame.ts >= this.#openedAt) metrics.publishToDeliver.observe((Date.now() - frame.ts) / 1000);
    endSpan(span);
    return true;
  }

  /** Sends one event, waiting for the socket to drain instead of buffering without bound; false once it closed. */
  async #deliver(frame: EventFrame): Promise<boolean> {
    if (this.#stopped) return false;
    // Lets a client with both `chat.a` and `chat.*` tell which subscription an event belongs to.
    const r = this.#sink.send(this.#tagged ? { ...frame, sub: this.pattern } : frame);
    if (r === "closed") return false;
    if (r === "buffered") await this.#sink.writable();
    return !this.#stopped;
  }
}

import { EVENTS_STREAM, isWildcard } from "../../subjects/mod.ts";
import type { Encoding } from "../codec/mod.ts";
import { ATTR, endSpan, type Span, SpanKind } from "../telemetry/mod.ts";
import type { SendResult } from "../wsserver/mod.ts";
import type { OutEvent, StreamOrigin } from "./event.ts";
import type { EventSink, SubscriptionDeps } from "./subscription-deps.ts";

/**
 * Opening times are kept relative to this: a small integer fits in the object, a timestamp is a
 * heap number of its own.
 */
const CLOCK_ORIGIN = Date.now();

/**
 * One subscription's way out to its sink, shared by every phase: its frames
 * in its encoding (tagged with a wildcard's pattern), a delivery span and the
 * delivery metrics per event from the stream, and the cursor it has reached.
 */
export class Delivery {
  readonly pattern: string;
  /** How its frames are encoded: the encoding of the frame that subscribed. */
  readonly encoding: Encoding;
  /** The next stream sequence to deliver: everything before it was delivered or does not match. */
  next: number;
  /** Lets a client with both `chat.a` and `chat.*` tell which subscription an event belongs to. */
  readonly #tag: string | undefined;
  readonly #sink: EventSink;
  readonly #deps: Pick<SubscriptionDeps, "log" | "metrics" | "tracing">;
  /**
   * Events received at ingest before this (ms after CLOCK_ORIGIN) are replays: their age is
   * not delivery latency.
   */
  readonly #openedAt = Date.now() - CLOCK_ORIGIN;

  constructor(
    deps: Pick<SubscriptionDeps, "log" | "metrics" | "tracing">,
    pattern: string,
    encoding: Encoding,
    sink: EventSink,
    next: number,
  ) {
    this.pattern = pattern;
    this.encoding = encoding;
    this.next = next;
    this.#tag = isWildcard(pattern) ? pattern : undefined;
    this.#sink = sink;
    this.#deps = deps;
  }

  /** Resolves once the sink is below its pause limit again (or closed). */
  writable(): Promise<void> {
    return this.#sink.writable();
  }

  /**
   * Sends events in one write, with a delivery span and the delivery metrics
   * for each one from the stream. Advances `next` past them.
   */
  send(events: OutEvent[]): SendResult {
    const { metrics } = this.#deps;
    const frames: Array<string | Uint8Array> = [];
    const spans: Array<Span | undefined> = [];
    const fromStream: OutEvent[] = [];
    for (const ev of events) {
      if (ev.origin) {
        // Rows from PostgreSQL have no sequence of this stream.
        if (ev.seq < this.next) continue;
        this.next = ev.seq + 1;
        fromStream.push(ev);
        spans.push(this.#span(ev.seq, ev.origin, ev));
      }
      frames.push(ev.encoded(this.encoding, this.#tag));
    }
    if (frames.length === 0) return "sent";
    if (fromStream.length > 0) metrics.received.inc(fromStream.length);
    const r = this.#sink.sendEncoded(frames, this.encoding);
    if (r === "closed") {
      for (const span of spans) endSpan(span, "subscriber connection closed");
      return r;
    }
    if (fromStream.length > 0) metrics.delivered.inc(fromStream.length);
    const now = Date.now();
    for (const ev of fromStream) {
      if (ev.frame.ts - CLOCK_ORIGIN >= this.#openedAt) {
        metrics.publishToDeliver.observe((now - ev.frame.ts) / 1000);
      }
    }
    for (const span of spans) endSpan(span);
    return r;
  }

  /** Moves past a stream message that is not an event, logged with its trace so it can be found. */
  skip(seq: number, origin: StreamOrigin, err: unknown): void {
    this.next = seq + 1;
    this.#deps.metrics.received.inc();
    const span = this.#span(seq, origin);
    this.#deps.log.error("undecodable event skipped", {
      err,
      seq,
      trace_id: span?.spanContext().traceId,
    });
    endSpan(span, err);
  }

  /**
   * One delivery span per subscription, child of route's span: the event's trace shows every
   * subscriber it reached.
   */
  #span(seq: number, origin: StreamOrigin, ev?: OutEvent): Span | undefined {
    const span = this.#deps.tracing?.startFromHeaders(
      "notify deliver",
      SpanKind.CONSUMER,
      origin.headers,
      {
        [ATTR.messagingSystem]: "nats",
        [ATTR.operation]: "deliver",
        [ATTR.destination]: origin.subject,
        [ATTR.stream]: EVENTS_STREAM,
        [ATTR.streamSeq]: seq,
        [ATTR.deliveryCount]: origin.deliveryCount,
        [ATTR.subscription]: this.pattern,
      },
    );
    if (span && ev) {
      span.setAttribute(ATTR.eventId, ev.frame.id);
      span.setAttribute(ATTR.channel, ev.frame.channel);
    }
    return span;
  }
}

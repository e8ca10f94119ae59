import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  EVENTS_STREAM,
  eventsSubject,
  INGEST_STREAM,
  ingestChannelOf,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from "../../subjects/mod.ts";
import {
  backoffMs,
  deadLetter,
  isRetryable,
  publishWithRetry,
  sleep,
  type StreamPublisher,
} from "../bus/mod.ts";
import { errorMessage } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { KeyedSerial } from "../ordering/mod.ts";
import { ATTR, endSpan, failSpan, type Span, SpanKind, type Tracing } from "../telemetry/mod.ts";
import type { RouteMetrics } from "./metrics.ts";

const ROUTE_SERVICE = "route";
/** Passed on from the input when route does not trace itself. */
const TRACE_HEADERS = [TRACEPARENT_HEADER, TRACESTATE_HEADER];

/** A message as `accept` read it: its envelope, or why it does not decode. */
type Input = { env: Envelope } | { invalid: unknown };

export interface Routed {
  subject: string;
  envelope: Envelope;
}

/** A routing step: where an event goes and what it becomes. Throwing counts as a failed attempt. */
export type RouteStep = (env: Envelope, now: number) => Routed;

/** v1 routing: `ingest.<partition>.<channel>` → `events.<channel>`, stamped with the route time. */
export const defaultRoute: RouteStep = (env, now) => ({
  subject: eventsSubject(env.channel),
  envelope: { ...env, routedAt: now },
});

/**
 * Processing rules (processing.ts): takes the inputs of namespaces with rules onto a queue of
 * its own. Absent when no namespace has rules: every input takes the v1 path.
 */
export interface RulesHook {
  /** Undefined: no rules apply to this input. */
  claim(m: JsMsg, env: Envelope): { key: string; run: () => Promise<void> } | undefined;
  /** Resolves when its acks in flight are done. */
  idle(): Promise<void>;
}

export interface RelayOptions {
  /** For DLQ. */
  js: JetStreamClient;
  /**
   * Publishes to EVENTS: a PipelinedPublisher, whose PubAcks cost far less CPU than the
   * client's request per publish.
   */
  pub: StreamPublisher;
  log: Logger;
  signal: AbortSignal;
  step: RouteStep;
  /** Attempts at the routing step before the event goes to DLQ. */
  maxAttempts: number;
  metrics: RouteMetrics;
  /** Absent: tracing is off. */
  tracing?: Tracing;
  rules?: RulesHook;
}

/**
 * Moves INGEST messages to EVENTS. Per channel, one event at a time: the next
 * event of a channel is published only after the previous one's PubAck, and a
 * failed publish is retried (same msgID) before anything behind it moves. So a
 * retry can never let a later event overtake an earlier one. Channels proceed
 * concurrently. The input is acked only after the output's PubAck; a crash in
 * between republishes, and EVENTS drops the copy by msgID.
 *
 * An event that cannot be routed (its envelope does not decode, the routing
 * step throws `maxAttempts` times, JetStream refuses it for good) goes to DLQ
 * and its channel moves on: the rest of the channel keeps its order, without it.
 */
export class Relay {
  readonly #order = new KeyedSerial();
  /** Stream sequences queued here, so a redelivery of a slow message is not queued twice. */
  readonly #queued = new Set<number>();
  readonly #o: RelayOptions;

  constructor(o: RelayOptions) {
    this.#o = o;
  }

  /** Queues a message; returns at once. */
  accept(m: JsMsg): void {
    const seq = m.info.streamSequence;
    if (this.#queued.has(seq)) return;
    this.#queued.add(seq);
    this.#o.metrics.received.inc();
    if (m.info.deliveryCount > 1) this.#o.metrics.redelivered.inc();
    const channel = ingestChannelOf(m.subject) ?? m.subject;
    const input = this.#read(m);
    // Stepped here, in arrival order, when rules apply (processing.ts).
    const rules = "env" in input ? this.#o.rules?.claim(m, input.env) : undefined;
    const run = rules?.run ?? (() => this.#traced(m, channel, input));
    this.#order.run(rules?.key ?? channel, run)
      .catch((err) => {
        this.#o.metrics.failed.inc();
        this.#o.log.warn("event left for redelivery", { err, seq, channel });
      })
      .finally(() => this.#queued.delete(seq));
  }

  #read(m: JsMsg): Input {
    try {
      return { env: decodeEnvelope(m.data) };
    } catch (err) {
      return { invalid: err };
    }
  }

  /** With tracing off, straight to the relay: not even a wrapping promise per event. */
  #traced(m: JsMsg, channel: string, input: Input): Promise<void> {
    const tracing = this.#o.tracing;
    return tracing === undefined
      ? this.#relay(m, channel, input, undefined)
      : this.#relayInSpan(tracing, m, channel, input);
  }

  /**
   * One span per relay of a message, child of the ingest span; logs inside it carry its trace
   * id.
   */
  async #relayInSpan(tracing: Tracing, m: JsMsg, channel: string, input: Input): Promise<void> {
    const span = tracing.startFromHeaders("route relay", SpanKind.CONSUMER, m.headers, {
      [ATTR.messagingSystem]: "nats",
      [ATTR.operation]: "process",
      [ATTR.destination]: m.subject,
      [ATTR.stream]: INGEST_STREAM,
      [ATTR.streamSeq]: m.info.streamSequence,
      [ATTR.deliveryCount]: m.info.deliveryCount,
      [ATTR.channel]: channel,
    });
    try {
      await tracing.within(span, () => this.#relay(m, channel, input, span));
      endSpan(span);
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  }

  async #relay(m: JsMsg, channel: string, input: Input, span: Span | undefined): Promise<void> {
    const { log, signal, metrics } = this.#o;
    if (signal.aborted) return;
    const seq = m.info.streamSequence;
    if ("invalid" in input) {
      log.error("undecodable event sent to DLQ", { err: input.invalid, seq });
      const reason = `invalid envelope: ${errorMessage(input.invalid)}`;
      return this.#park(m, channel, span, reason, m.info.deliveryCount);
    }
    const env = input.env;
    span?.setAttribute(ATTR.eventId, env.id);
    const out = await this.#route(env, m);
    if (out instanceof Error) {
      log.error("event failed routing, sent to DLQ", {
        err: out,
        id: env.id,
        attempts: this.#o.maxAttempts,
      });
      return this.#park(m, channel, span, `route step failed: ${out.message}`, this.#o.maxAttempts);
    }
    const h = natsHeaders();
    if (span !== undefined && this.#o.tracing !== undefined) {
      this.#o.tracing.inject(span, h);
    } else {
      for (const k of TRACE_HEADERS) {
        const v = m.headers?.get(k);
        if (v) h.set(k, v);
      }
    }
    const started = performance.now();
    try {
      // Dedupe (docs/dedupe.md), hop 2: the same msgID, so EVENTS drops a redelivered copy.
      const pa = await publishWithRetry(this.#o.pub, out.subject, encodeEnvelope(out.envelope), {
        msgID: env.id,
        headers: h,
      }, {
        signal,
        onRetry: (err, attempt) => {
          // Keep the input from being redelivered while we hold it.
          m.working();
          if (attempt % 10 === 0) {
            log.warn("publish to EVENTS retrying", { err, id: env.id, attempt });
          }
        },
      });
      metrics.publishAck.observe((performance.now() - started) / 1000);
      if (pa.duplicate) {
        // A redelivery of a routed input, or a client's retry that came after INGEST's window:
        // EVENTS keeps its msgIDs for the dedupe horizon (ROUTE_DEDUPE_TTL, docs/dedupe.md).
        log.info("event already in EVENTS: acked without a second copy", {
          id: env.id,
          seq,
          events_seq: pa.seq,
          deliveries: m.info.deliveryCount,
        });
        span?.setAttribute(ATTR.duplicate, true);
        metrics.duplicates.inc();
      } else {
        metrics.published.inc();
      }
      span?.setAttribute(ATTR.outStream, EVENTS_STREAM);
      span?.setAttribute(ATTR.outSeq, pa.seq);
    } catch (err) {
      if (isRetryable(err) || signal.aborted) throw err;
      log.error("unpublishable event sent to DLQ", { err, id: env.id });
      const reason = `publish rejected: ${errorMessage(err)}`;
      return this.#park(m, channel, span, reason, m.info.deliveryCount);
    }
    this.#ack(m);
  }

  async #park(
    m: JsMsg,
    channel: string,
    span: Span | undefined,
    reason: string,
    deliveries: number,
  ): Promise<void> {
    span?.setAttribute(ATTR.dlq, true);
    failSpan(span, reason);
    await deadLetter(this.#o.js, ROUTE_SERVICE, channel, m, reason, deliveries, this.#o.signal);
    this.#o.metrics.deadLettered.inc();
  }

  #ack(m: JsMsg): void {
    m.ack();
    this.#o.metrics.acked.inc();
  }

  /**
   * The routing step with bounded retries in place, so a failing event holds up its channel
   * only briefly.
   */
  async #route(env: Envelope, m: JsMsg): Promise<Routed | Error> {
    for (let attempt = 1;; attempt++) {
      try {
        return this.#o.step(env, Date.now());
      } catch (err) {
        if (attempt >= this.#o.maxAttempts) {
          return err instanceof Error ? err : new Error(String(err));
        }
        m.working();
        await sleep(backoffMs(attempt, 50, 1000), this.#o.signal);
      }
    }
  }

  /** Resolves when every accepted message is relayed (or left for redelivery). */
  async idle(): Promise<void> {
    await this.#order.idle();
    await this.#o.rules?.idle();
  }
}

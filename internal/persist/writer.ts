import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { channelOf, decodeEnvelope, EVENTS_PREFIX, EVENTS_STREAM } from "../../subjects/mod.ts";
import { backoffMs, deadLetter, sleep } from "../bus/mod.ts";
import { errorCode, errorMessage } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { EventRow, Store } from "../store/mod.ts";
import { ATTR, endSpan, failSpan, type Span, SpanKind, type Tracing } from "../telemetry/mod.ts";
import type { PersistMetrics } from "./metrics.ts";

const PERSIST_SERVICE = "persist";

interface Pending {
  row: EventRow;
  msg: JsMsg;
  /** This event's span in its trace; undefined with tracing off. */
  span: Span | undefined;
}

export interface BatchWriterOptions {
  store: Store;
  js: JetStreamClient;
  epoch: number;
  log: Logger;
  signal: AbortSignal;
  /** Attempts at a single row the database rejects before it goes to DLQ. */
  maxAttempts: number;
  metrics: PersistMetrics;
  /** Absent: tracing is off. */
  tracing?: Tracing;
}

/**
 * Writes one pulled batch in one INSERT … ON CONFLICT (event_id) DO NOTHING and
 * acks the batch only after the commit. A crash before the ack redelivers the
 * batch and the insert skips what is already there, so every event is stored once.
 * Dedupe (docs/dedupe.md): the hop into PostgreSQL, by event id.
 *
 * When the database rejects a batch's data (a constraint, a data exception),
 * the batch is split in halves until the rejected rows stand alone; each is
 * tried `maxAttempts` times, then parked on DLQ, and the rest is stored. When
 * the database is unreachable, the batch waits and retries without limit.
 *
 * With tracing on, each event gets its own span in its own trace, from the
 * moment its batch is taken until its ack: a batch mixes many traces.
 */
export class BatchWriter {
  readonly #o: BatchWriterOptions;

  constructor(o: BatchWriterOptions) {
    this.#o = o;
  }

  async write(batch: JsMsg[]): Promise<void> {
    const { metrics, tracing } = this.#o;
    const pending: Pending[] = [];
    for (const msg of batch) {
      metrics.received.inc();
      if (msg.info.deliveryCount > 1) metrics.redelivered.inc();
      const span = tracing?.startFromHeaders("persist write", SpanKind.CONSUMER, msg.headers, {
        [ATTR.messagingSystem]: "nats",
        [ATTR.operation]: "process",
        [ATTR.destination]: msg.subject,
        [ATTR.stream]: EVENTS_STREAM,
        [ATTR.streamSeq]: msg.info.streamSequence,
        [ATTR.deliveryCount]: msg.info.deliveryCount,
      });
      try {
        const env = decodeEnvelope(msg.data);
        span?.setAttribute(ATTR.eventId, env.id);
        span?.setAttribute(ATTR.channel, env.channel);
        pending.push({
          msg,
          span,
          row: {
            eventId: env.id,
            channel: env.channel,
            cursor: { epoch: this.#o.epoch, seq: msg.info.streamSequence },
            receivedAt: env.ts,
            publisher: env.publisher,
            data: env.data,
          },
        });
      } catch (err) {
        await this.#within(span, async () => {
          this.#o.log.error("undecodable event sent to DLQ", { err, seq: msg.info.streamSequence });
          await this.#park(
            msg,
            span,
            `invalid envelope: ${errorMessage(err)}`,
            msg.info.deliveryCount,
          );
        });
      }
    }
    await this.#store(pending);
  }

  async #store(pending: Pending[]): Promise<void> {
    if (pending.length === 0) return;
    const { metrics } = this.#o;
    for (let attempt = 1;; attempt++) {
      try {
        const started = performance.now();
        const inserted = await this.#o.store.insertEvents(pending.map((p) => p.row));
        metrics.commitSeconds.observe((performance.now() - started) / 1000);
        metrics.batchRows.observe(pending.length);
        this.#o.log.debug("batch committed", { rows: pending.length, inserted });
        for (const p of pending) {
          p.msg.ack();
          p.span?.setAttribute(ATTR.batchSize, pending.length);
          endSpan(p.span);
        }
        metrics.acked.inc(pending.length);
        return;
      } catch (err) {
        metrics.dbErrors.inc();
        if (this.#o.signal.aborted) {
          for (const p of pending) endSpan(p.span, err);
          throw err;
        }
        if (errorCode(err) === "rejected") {
          if (pending.length > 1) {
            const half = Math.ceil(pending.length / 2);
            await this.#store(pending.slice(0, half));
            await this.#store(pending.slice(half));
            return;
          }
          if (attempt >= this.#o.maxAttempts) {
            const [p] = pending;
            await this.#within(p.span, async () => {
              this.#o.log.error("event rejected by the database, sent to DLQ", {
                err,
                id: p.row.eventId,
                attempts: attempt,
              });
              await this.#park(p.msg, p.span, errorMessage(err), attempt);
            });
            return;
          }
        } else if (attempt % 10 === 1) {
          this.#o.log.warn("batch insert failed, retrying", { err, rows: pending.length, attempt });
        }
        for (const p of pending) p.msg.working();
        await sleep(backoffMs(attempt, 100, 5000), this.#o.signal);
      }
    }
  }

  async #park(
    msg: JsMsg,
    span: Span | undefined,
    reason: string,
    deliveries: number,
  ): Promise<void> {
    const channel = channelOf(EVENTS_PREFIX, msg.subject) ?? msg.subject;
    span?.setAttribute(ATTR.dlq, true);
    failSpan(span, reason);
    try {
      await deadLetter(
        this.#o.js,
        PERSIST_SERVICE,
        channel,
        msg,
        reason,
        deliveries,
        this.#o.signal,
      );
      this.#o.metrics.deadLettered.inc();
    } finally {
      endSpan(span);
    }
  }

  /** Runs `fn` inside the event's span, so its log lines carry the trace id. */
  #within(span: Span | undefined, fn: () => Promise<void>): Promise<void> {
    return span !== undefined && this.#o.tracing !== undefined
      ? this.#o.tracing.within(span, fn)
      : fn();
  }
}

import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { channelOf, decodeEnvelope, EVENTS_PREFIX } from "../../subjects/mod.ts";
import { backoffMs, deadLetter, sleep } from "../bus/mod.ts";
import { errorCode, errorMessage } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { EventRow, Store } from "../store/mod.ts";

export const PERSIST_SERVICE = "persist";

interface Pending {
  row: EventRow;
  msg: JsMsg;
}

export interface BatchWriterOptions {
  store: Store;
  js: JetStreamClient;
  epoch: number;
  log: Logger;
  signal: AbortSignal;
  /** Attempts at a single row the database rejects before it goes to DLQ. */
  maxAttempts: number;
}

/**
 * Writes one pulled batch in one INSERT … ON CONFLICT (event_id) DO NOTHING and
 * acks the batch only after the commit. A crash before the ack redelivers the
 * batch and the insert skips what is already there, so every event is stored once.
 *
 * When the database rejects a batch's data (a constraint, a data exception),
 * the batch is split in halves until the rejected rows stand alone; each is
 * tried `maxAttempts` times, then parked on DLQ, and the rest is stored. When
 * the database is unreachable, the batch waits and retries without limit.
 */
export class BatchWriter {
  readonly #o: BatchWriterOptions;

  constructor(o: BatchWriterOptions) {
    this.#o = o;
  }

  async write(batch: JsMsg[]): Promise<void> {
    const pending: Pending[] = [];
    for (const msg of batch) {
      try {
        const env = decodeEnvelope(msg.data);
        pending.push({
          msg,
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
        this.#o.log.error("undecodable event sent to DLQ", { err, seq: msg.info.streamSequence });
        await this.#park(msg, `invalid envelope: ${errorMessage(err)}`, msg.info.deliveryCount);
      }
    }
    await this.#store(pending);
  }

  async #store(pending: Pending[]): Promise<void> {
    if (pending.length === 0) return;
    for (let attempt = 1;; attempt++) {
      try {
        const inserted = await this.#o.store.insertEvents(pending.map((p) => p.row));
        this.#o.log.debug("batch committed", { rows: pending.length, inserted });
        for (const p of pending) p.msg.ack();
        return;
      } catch (err) {
        if (this.#o.signal.aborted) throw err;
        if (errorCode(err) === "rejected") {
          if (pending.length > 1) {
            const half = Math.ceil(pending.length / 2);
            await this.#store(pending.slice(0, half));
            await this.#store(pending.slice(half));
            return;
          }
          if (attempt >= this.#o.maxAttempts) {
            const [p] = pending;
            this.#o.log.error("event rejected by the database, sent to DLQ", { err, id: p.row.eventId, attempts: attempt });
            await this.#park(p.msg, errorMessage(err), attempt);
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

  #park(msg: JsMsg, reason: string, deliveries: number): Promise<void> {
    const channel = channelOf(EVENTS_PREFIX, msg.subject) ?? msg.subject;
    return deadLetter(this.#o.js, PERSIST_SERVICE, channel, msg, reason, deliveries, this.#o.signal);
  }
}

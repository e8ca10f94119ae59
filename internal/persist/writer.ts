import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { channelOf, decodeEnvelope, EVENTS_PREFIX } from "../../subjects/mod.ts";
import { backoffMs, deadLetter, sleep } from "../bus/mod.ts";
import { errorMessage } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { EventRow, Store } from "../store/mod.ts";

export const PERSIST_SERVICE = "persist";

/**
 * Writes one pulled batch in one INSERT … ON CONFLICT (event_id) DO NOTHING and
 * acks the batch only after the commit. A crash before the ack redelivers the
 * batch and the insert skips what is already there, so every event is stored once.
 */
export class BatchWriter {
  readonly #store: Store;
  readonly #js: JetStreamClient;
  readonly #epoch: number;
  readonly #log: Logger;
  readonly #signal: AbortSignal;

  constructor(o: { store: Store; js: JetStreamClient; epoch: number; log: Logger; signal: AbortSignal }) {
    this.#store = o.store;
    this.#js = o.js;
    this.#epoch = o.epoch;
    this.#log = o.log;
    this.#signal = o.signal;
  }

  async write(batch: JsMsg[]): Promise<void> {
    const rows: EventRow[] = [];
    const good: JsMsg[] = [];
    for (const m of batch) {
      try {
        const env = decodeEnvelope(m.data);
        rows.push({
          eventId: env.id,
          channel: env.channel,
          cursor: { epoch: this.#epoch, seq: m.info.streamSequence },
          receivedAt: env.ts,
          publisher: env.publisher,
          data: env.data,
        });
        good.push(m);
      } catch (err) {
        const channel = channelOf(EVENTS_PREFIX, m.subject) ?? m.subject;
        this.#log.error("undecodable event sent to DLQ", { err, seq: m.info.streamSequence });
        await deadLetter(this.#js, PERSIST_SERVICE, channel, m, `invalid envelope: ${errorMessage(err)}`, this.#signal);
      }
    }
    await this.#insert(rows, good);
    for (const m of good) m.ack();
  }

  /** Retries until the database takes the batch; the messages are kept from redelivery meanwhile. */
  async #insert(rows: EventRow[], msgs: JsMsg[]): Promise<void> {
    for (let attempt = 0;; attempt++) {
      try {
        const inserted = await this.#store.insertEvents(rows);
        this.#log.debug("batch committed", { rows: rows.length, inserted });
        return;
      } catch (err) {
        if (this.#signal.aborted) throw err;
        if (attempt % 10 === 0) this.#log.warn("batch insert failed, retrying", { err, rows: rows.length, attempt });
        for (const m of msgs) m.working();
        await sleep(backoffMs(attempt, 100, 5000), this.#signal);
      }
    }
  }
}

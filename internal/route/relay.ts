import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  channelOf,
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
  eventsSubject,
  INGEST_PREFIX,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from "../../subjects/mod.ts";
import { deadLetter, isRetryable, publishWithRetry } from "../bus/mod.ts";
import { errorMessage } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { KeyedSerial } from "../ordering/mod.ts";

export const ROUTE_SERVICE = "route";

/** v1 routing: `ingest.<channel>` → `events.<channel>`, stamped with the route time. */
export function routeEnvelope(env: Envelope, now: number): { subject: string; envelope: Envelope } {
  return { subject: eventsSubject(env.channel), envelope: { ...env, routedAt: now } };
}

/**
 * Moves INGEST messages to EVENTS. Per channel, one event at a time: the next
 * event of a channel is published only after the previous one's PubAck, and a
 * failed publish is retried (same msgID) before anything behind it moves. So a
 * retry can never let a later event overtake an earlier one. Channels proceed
 * concurrently. The input is acked only after the output's PubAck; a crash in
 * between republishes, and EVENTS drops the copy by msgID.
 */
export class Relay {
  readonly #order = new KeyedSerial();
  /** Stream sequences queued here, so a redelivery of a slow message is not queued twice. */
  readonly #queued = new Set<number>();
  readonly #js: JetStreamClient;
  readonly #log: Logger;
  readonly #signal: AbortSignal;

  constructor(js: JetStreamClient, log: Logger, signal: AbortSignal) {
    this.#js = js;
    this.#log = log;
    this.#signal = signal;
  }

  /** Queues a message; returns at once. */
  accept(m: JsMsg): void {
    const seq = m.info.streamSequence;
    if (this.#queued.has(seq)) return;
    this.#queued.add(seq);
    const channel = channelOf(INGEST_PREFIX, m.subject) ?? m.subject;
    this.#order.run(channel, () => this.#relay(m, channel))
      .catch((err) => this.#log.warn("event left for redelivery", { err, seq, channel }))
      .finally(() => this.#queued.delete(seq));
  }

  async #relay(m: JsMsg, channel: string): Promise<void> {
    if (this.#signal.aborted) return;
    let env: Envelope;
    try {
      env = decodeEnvelope(m.data);
    } catch (err) {
      this.#log.error("undecodable event sent to DLQ", { err, seq: m.info.streamSequence });
      return deadLetter(this.#js, ROUTE_SERVICE, channel, m, `invalid envelope: ${errorMessage(err)}`, this.#signal);
    }
    const out = routeEnvelope(env, Date.now());
    const h = natsHeaders();
    for (const k of [TRACEPARENT_HEADER, TRACESTATE_HEADER]) {
      const v = m.headers?.get(k);
      if (v) h.set(k, v);
    }
    try {
      await publishWithRetry(this.#js, out.subject, encodeEnvelope(out.envelope), { msgID: env.id, headers: h }, {
        signal: this.#signal,
        onRetry: (err, attempt) => {
          // Keep the input from being redelivered while we hold it.
          m.working();
          if (attempt % 10 === 0) this.#log.warn("publish to EVENTS retrying", { err, id: env.id, attempt });
        },
      });
    } catch (err) {
      if (isRetryable(err) || this.#signal.aborted) throw err;
      this.#log.error("unpublishable event sent to DLQ", { err, id: env.id });
      return deadLetter(this.#js, ROUTE_SERVICE, channel, m, `publish rejected: ${errorMessage(err)}`, this.#signal);
    }
    m.ack();
  }

  /** Resolves when every accepted message is relayed (or left for redelivery). */
  idle(): Promise<void> {
    return this.#order.idle();
  }
}

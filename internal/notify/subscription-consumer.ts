import { type Consumer, type ConsumerMessages, DeliverPolicy } from "@nats-io/jetstream";
import { EVENTS_STREAM, eventsSubject } from "../../subjects/mod.ts";
import { backoffMs, sleep } from "../bus/mod.ts";
import { CONSUMER_LOST } from "./lost.ts";
import type { CatchUpHost } from "./subscription-catch-up.ts";

/**
 * A catch-up's ordered consumer of its own on EVENTS, filtered to the
 * pattern; replaced at the next undelivered sequence when the server lost it.
 * Nothing is acked: the subscriber's cursor is the state.
 */
export class CatchUpConsumer {
  readonly #host: CatchUpHost;
  #consumer?: Consumer;
  /** Unset before the first consumer, and from the end of one's reading until its replacement. */
  messages?: ConsumerMessages;
  /** The creation's answer: nothing matched from the consumer's start to the stream's end. */
  emptyAtStart = false;

  constructor(host: CatchUpHost) {
    this.#host = host;
  }

  /** Creates the consumer at `fromSeq`; throws when the bus cannot. */
  async open(fromSeq: number): Promise<void> {
    const { deps, delivery } = this.#host;
    const consumer = await deps.js.consumers.get(EVENTS_STREAM, {
      filter_subjects: eventsSubject(delivery.pattern),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: fromSeq,
    });
    this.#consumer = consumer;
    this.emptyAtStart = (await consumer.info(true)).num_pending === 0;
    // Heartbeats every 5 s, so a consumer lost without a reconnect is noticed within 10 s.
    const messages = await consumer.consume({ max_messages: 256, expires: 10_000 });
    this.messages = messages;
    if (this.#host.stopped()) messages.stop();
    (async () => {
      for await (const s of messages.status()) {
        if (!CONSUMER_LOST.has(s.type)) continue;
        deps.log.info("ordered consumer lost, replacing it", {
          pattern: delivery.pattern,
          status: s.type,
        });
        messages.stop();
        return;
      }
    })().catch(() => {});
  }

  /**
   * A new consumer from the next undelivered sequence, retried while the bus is away; undefined
   * once stopped.
   */
  async replace(): Promise<ConsumerMessages | undefined> {
    this.close();
    const { deps, delivery } = this.#host;
    for (let attempt = 0; !this.#host.stopped(); attempt++) {
      try {
        await this.open(delivery.next);
        return this.messages;
      } catch (err) {
        if (attempt % 10 === 0) {
          deps.log.warn("ordered consumer not available yet", {
            err,
            pattern: delivery.pattern,
            attempt,
          });
        }
        await sleep(backoffMs(attempt, 100, 2000), this.#host.wakeOnStop());
      }
    }
    return undefined;
  }

  /** Stops the reading and deletes the consumer from the server rather than leave it to expire. */
  close(): void {
    this.messages?.stop();
    this.messages = undefined;
    this.#consumer?.delete().catch(() => {});
    this.#consumer = undefined;
  }
}

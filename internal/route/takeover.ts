import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../log/mod.ts";

/**
 * What a replica does with a partition it has just been given (issue 14).
 *
 * The previous holder may have left events delivered and unacked (a crash, or
 * a stall past the pin timeout); the server sends them again only after
 * ack_wait, while newer events of the same channels keep coming. Relaying the
 * newer ones first would put them ahead of their predecessors. So while the
 * consumer counts more unacked events than this replica holds, everything
 * pulled is gathered, not relayed; pulling goes on (which keeps the pin) and
 * the left-overs arrive as they come due. Once every unacked event of the
 * partition is in hand, the gathered events go to the relay in stream order.
 * Gathered events are kept from redelivery with working(); a copy delivered
 * again replaces the older one.
 */
export class Takeover {
  readonly #held = new Map<number, JsMsg>();
  readonly #consumer: () => Consumer;
  readonly #log: Logger;
  readonly #name: string;
  readonly #keepAliveMs: number;
  /** Runs only while events are held: 16 partitions' timers would otherwise wake route for nothing. */
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #gathering = false;

  constructor(o: { consumer: () => Consumer; log: Logger; name: string; ackWaitMs: number }) {
    this.#consumer = o.consumer;
    this.#log = o.log;
    this.#name = o.name;
    this.#keepAliveMs = Math.max(200, o.ackWaitMs / 3);
  }

  /**
   * The pin came here, or a pull failed: gather if the consumer holds events this replica was
   * not given (or lost on the way).
   */
  async gained(
    received: number,
    why = "gathering events the previous holder left unacked",
  ): Promise<number> {
    const foreign = (await this.#consumer().info()).num_ack_pending - received;
    if (foreign > 0) {
      this.#gathering = true;
      this.#log.warn(why, { consumer: this.#name, foreign });
    }
    return foreign;
  }

  /**
   * Passes a batch through, or while gathering keeps it and returns what is
   * ready: nothing, or everything gathered in stream order once complete.
   */
  async take(batch: JsMsg[]): Promise<JsMsg[]> {
    if (!this.#gathering) return batch;
    for (const m of batch) this.#held.set(m.info.streamSequence, m);
    if (this.#keepAlive === undefined && this.#held.size > 0) {
      this.#keepAlive = setInterval(() => {
        for (const m of this.#held.values()) m.working();
      }, this.#keepAliveMs);
      (this.#keepAlive as { unref?: () => void }).unref?.();
    }
    const unacked = (await this.#consumer().info()).num_ack_pending;
    if (unacked > this.#held.size) return [];
    this.#gathering = false;
    const ready = [...this.#held.values()].sort((a, b) =>
      a.info.streamSequence - b.info.streamSequence
    );
    this.#held.clear();
    this.close();
    this.#log.info("left-over events gathered, relaying in stream order", {
      consumer: this.#name,
      events: ready.length,
    });
    return ready;
  }

  close(): void {
    clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }
}

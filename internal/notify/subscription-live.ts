import type { SendResult } from "../wsserver/mod.ts";
import type { OutEvent } from "./event.ts";
import type { Delivery } from "./subscription-delivery.ts";

/**
 * Phase 3 of a subscription: a hub member whose offers go out as they come,
 * queued until the hub's flush after each read from NATS, then sent in one
 * write. A live subscription holds no pending async work, only its place in
 * the hub: idle connections should cost little more than their socket.
 *
 * A write that leaves the socket over the pause limit takes the subscription
 * out of the hub, so a slow client never holds up the others; once the
 * socket drains (the outbox closes it with 4008 if that takes too long) it
 * catches up again from its last event. It does the same when the hub
 * reports a gap.
 */
export class LivePhase {
  readonly phase = "live" as const;
  /** Offered since the last flush; made on the first, since most live subscriptions are idle. */
  #queued: OutEvent[] | undefined;

  /** Starts with the events held while catching up, so they go out first. */
  constructor(held: OutEvent[] | undefined) {
    this.#queued = held;
  }

  /** Queues an offer; true for the first since the last flush, when one must be asked for. */
  queue(ev: OutEvent): boolean {
    return (this.#queued ??= []).push(ev) === 1;
  }

  /**
   * Sends what is queued in one write; "buffered" means out of the hub until the socket drains,
   * "closed" the end of the subscription. Undefined when nothing was queued.
   */
  flush(delivery: Delivery): SendResult | undefined {
    const queued = this.#queued;
    if (!queued) return undefined;
    this.#queued = undefined;
    return delivery.send(queued);
  }
}

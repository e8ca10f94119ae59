import type { JsMsg } from "@nats-io/jetstream";
import { type Cursor, decodeEnvelope, formatCursor } from "../../subjects/mod.ts";
import { backoffMs, isRetryable, sleep } from "../bus/mod.ts";
import { errorCode } from "../errors/mod.ts";
import { OutEvent } from "./event.ts";
import type { Pace } from "./pace.ts";
import { CatchUpConsumer } from "./subscription-consumer.ts";
import type { Delivery } from "./subscription-delivery.ts";
import type { SubscriptionDeps } from "./subscription-deps.ts";

/** Rows per PostgreSQL query while replaying beyond the stream's retention. */
const STORE_PAGE = 500;
/**
 * A message stored this close to its expiry may have neighbours that expired
 * before the consumer read them. Covers clock skew between nats-server and
 * notify and the time a pull takes.
 */
const EXPIRY_MARGIN_MS = 5000;
/**
 * Events held for a subscription catching up; past this it gives them up and catches up further
 * instead.
 */
export const MAX_HELD = 4096;

/** What a catch-up reads of the subscription it works for. */
export interface CatchUpHost {
  readonly deps: SubscriptionDeps;
  readonly delivery: Delivery;
  /**
   * Whether the subscription is in the hub, so that reading its consumer up to the end of what
   * matches means it has caught up with the hub.
   */
  readonly shared: boolean;
  stopped(): boolean;
  /** The stream's epoch and max age, as the subscription knows them. */
  epoch(): number;
  maxAgeMs(): number;
  /** Aborted by stop, so a sleep between retries ends with the subscription. */
  wakeOnStop(): AbortSignal;
}

/**
 * One catch-up of a subscription (phases 1 and 2, see Subscription): what it
 * reads from PostgreSQL and from an ordered consumer of its own on EVENTS,
 * filtered to the pattern, and what the hub offers it meanwhile. Made when
 * the subscription opens and each time it joins the hub again; dropped when it
 * goes live.
 *
 * Events that expire after the start was chosen but before the consumer
 * reads them show up as a jump in stream sequences; when expiry is possible
 * there (the first read of a resumed or rejoined catch-up, or a previous
 * message close to its max age) the stream's first sequence is checked and
 * the expired range is read from PostgreSQL before the message that follows.
 * A jump is otherwise normal: the sequences in between belong to other
 * channels.
 */
export class CatchUp {
  /**
   * The namespace's replay limits over a resumed subscription's first catch-up (see Pace);
   * undefined after it was first live.
   */
  readonly pace: Pace | undefined;
  readonly #host: CatchUpHost;
  readonly #consumer: CatchUpConsumer;
  /**
   * Events the hub offered since the subscription joined it, in order, made on the first;
   * "givenUp" once they are no longer all of them (too many, or a gap).
   */
  #held: OutEvent[] | "givenUp" | undefined;
  /**
   * Whether events may have expired before the consumer's first read: the start was a
   * client's cursor, or the subscription left the hub for a while.
   */
  #mayHaveGap: boolean;
  /**
   * Stored time of the last stream message delivered; undefined after a (re)start, when expiry
   * is checked at the first message.
   */
  #previousStoredAt?: number;

  constructor(host: CatchUpHost, mayHaveGap: boolean, pace: Pace | undefined) {
    this.#host = host;
    this.#consumer = new CatchUpConsumer(host);
    this.#mayHaveGap = mayHaveGap;
    this.pace = pace;
  }

  /** Whether a consumer is being read: none when the start is at the hub's position. */
  get reading(): boolean {
    return this.#consumer.messages !== undefined;
  }

  /** Whether the held events are every event the hub offered since the subscription joined. */
  get heldComplete(): boolean {
    return this.#held !== "givenUp";
  }

  /** The held events, for the subscription to deliver first once live. */
  get held(): OutEvent[] | undefined {
    return this.#held === "givenUp" ? undefined : this.#held;
  }

  /** An offer of the hub's, held until the catch-up reaches it. */
  hold(ev: OutEvent): void {
    const held = this.#held;
    if (held === "givenUp") return;
    if (held === undefined) this.#held = [ev];
    // The catch-up is far behind: give up what is held and catch up further instead.
    else if (held.length >= MAX_HELD) this.#held = "givenUp";
    else held.push(ev);
  }

  /** The hub missed events: what it offered is not every event any more. */
  giveUp(): void {
    this.#held = "givenUp";
  }

  /** Ends the consumer's reading; `fromStream` goes on with a new one. */
  restart(): void {
    this.#consumer.messages?.stop();
  }

  /** Stops the consumer and deletes it from the server. */
  close(): void {
    this.#consumer.close();
  }

  /** Creates the consumer at `fromSeq`; throws when the bus cannot. */
  open(fromSeq: number): Promise<void> {
    return this.#consumer.open(fromSeq);
  }

  /** A consumer from the next undelivered sequence, retried while the bus is away; false once stopped. */
  async replace(): Promise<boolean> {
    return (await this.#consumer.replace()) !== undefined;
  }

  /** Replays stored events strictly between two cursors; false when delivery must end. */
  async fromStore(after: Cursor, before: Cursor): Promise<boolean> {
    const { deps, delivery } = this.#host;
    for (let from = after;;) {
      const page = from;
      const rows = await this.#retrying(
        "replay from PostgreSQL",
        () => deps.store.replay(delivery.pattern, page, before, STORE_PAGE),
      );
      for (const row of rows) {
        const ev = new OutEvent({
          op: "event",
          channel: row.channel,
          cursor: formatCursor(row.cursor),
          id: row.eventId,
          ts: row.receivedAt,
          data: row.data,
        }, row.cursor.seq);
        if (!(await this.#deliver(ev))) return false;
      }
      if (rows.length < STORE_PAGE) return true;
      from = rows[rows.length - 1].cursor;
    }
  }

  /**
   * Reads the consumer (replacing it when lost). Returns true once it has
   * caught up with the hub, false when delivery must end. Without the hub
   * (`shared` false) it reads until the end.
   */
  async fromStream(): Promise<boolean> {
    const host = this.#host;
    const { delivery } = host;
    const consumer = this.#consumer;
    const epoch = host.epoch();
    while (!host.stopped()) {
      const messages = consumer.messages ?? (await consumer.replace());
      if (!messages) return false;
      if (host.shared && consumer.emptyAtStart) return await this.#caughtUp(undefined);
      for await (const m of messages) {
        if (host.stopped()) return false;
        const seq = m.info.streamSequence;
        // Dedupe (docs/dedupe.md), the subscriber's hop: the cursor only moves forward,
        // whatever a replaced consumer hands over.
        if (seq < delivery.next) continue;
        if (seq > delivery.next && !(await this.#fillExpired(seq))) return false;
        this.#previousStoredAt = m.info.timestampNanos / 1e6;
        if (!(await this.#deliverMessage(m, epoch))) return false;
        if (host.shared && m.info.pending === 0) return await this.#caughtUp(seq);
      }
      // Ended by stop(), restart() or a lost consumer; unless stopped, a new consumer
      // continues at `next`.
      consumer.messages = undefined;
    }
    return false;
  }

  /**
   * The consumer has nothing more: drop it; with nothing read yet, make sure nothing expired
   * on the way.
   */
  async #caughtUp(lastSeq: number | undefined): Promise<boolean> {
    const { deps, delivery } = this.#host;
    this.#consumer.close();
    if (lastSeq === undefined && this.#mayHaveExpired()) {
      const first = await this.#retrying("stream info", () => deps.firstSeq());
      if (first > delivery.next) {
        const epoch = this.#host.epoch();
        if (!(await this.fromStore({ epoch, seq: delivery.next - 1 }, { epoch, seq: first }))) {
          return false;
        }
        delivery.next = first;
      }
    }
    this.#mayHaveGap = false;
    return !this.#host.stopped();
  }

  /**
   * Before the message at `seq`: reads from PostgreSQL what expired since `next`, if anything
   * could have.
   */
  async #fillExpired(seq: number): Promise<boolean> {
    if (!this.#mayHaveExpired()) return true;
    const { deps, delivery } = this.#host;
    const first = await this.#retrying("stream info", () => deps.firstSeq());
    if (first <= delivery.next) return true;
    const epoch = this.#host.epoch();
    const before = { epoch, seq: Math.min(first, seq) };
    deps.log.debug("events expired under a subscription, reading them from PostgreSQL", {
      pattern: delivery.pattern,
      from: delivery.next,
      before: before.seq,
    });
    return await this.fromStore({ epoch, seq: delivery.next - 1 }, before);
  }

  #mayHaveExpired(): boolean {
    const previous = this.#previousStoredAt;
    if (previous === undefined) return this.#mayHaveGap;
    const maxAge = this.#host.maxAgeMs();
    return maxAge > 0 && previous + maxAge - EXPIRY_MARGIN_MS <= Date.now();
  }

  /**
   * Runs `fn` until it succeeds, waiting out outages of the bus or the database; throws other
   * errors.
   */
  async #retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const host = this.#host;
    for (let attempt = 0;; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const transient = isRetryable(err) || errorCode(err) === "unavailable";
        if (!transient || host.stopped()) throw err;
        if (attempt % 10 === 0) {
          host.deps.log.warn(`${what} failed, retrying`, {
            err,
            pattern: host.delivery.pattern,
            attempt,
          });
        }
        await sleep(backoffMs(attempt, 100, 2000), host.wakeOnStop());
      }
    }
  }

  /**
   * Delivers one event of the consumer; false once delivery must end. An undecodable event is
   * logged and skipped.
   */
  async #deliverMessage(m: JsMsg, epoch: number): Promise<boolean> {
    const seq = m.info.streamSequence;
    const origin = { subject: m.subject, deliveryCount: m.info.deliveryCount, headers: m.headers };
    let ev: OutEvent;
    try {
      ev = OutEvent.fromEnvelope(decodeEnvelope(m.data), { epoch, seq }, origin);
    } catch (err) {
      this.#host.delivery.skip(seq, origin, err);
      return true;
    }
    return await this.#deliver(ev);
  }

  /**
   * Sends one event at the pace's rate, waiting for the socket to drain instead of buffering
   * without bound; false once it closed.
   */
  async #deliver(ev: OutEvent): Promise<boolean> {
    const host = this.#host;
    if (host.stopped()) return false;
    const wait = this.pace?.next(ev.frame.ts) ?? 0;
    if (wait > 0) {
      await sleep(wait, host.wakeOnStop());
      if (host.stopped()) return false;
    }
    const r = host.delivery.send([ev]);
    if (r === "closed") return false;
    if (r === "buffered") await host.delivery.writable();
    return !host.stopped();
  }
}

import type { Encoding } from "../codec/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { StartPoint } from "./cursor-resume.ts";
import type { OutEvent } from "./event.ts";
import type { HubMember } from "./hub.ts";
import type { Pace } from "./pace.ts";
import { CatchUp, type CatchUpHost } from "./subscription-catch-up.ts";
import { Delivery } from "./subscription-delivery.ts";
import type { EventSink, SubscriptionDeps } from "./subscription-deps.ts";
import {
  isCatchingUp,
  type Move,
  type Phase,
  type SubscriptionState,
  transition,
} from "./subscription-state.ts";

export interface SubscriptionOptions<Owner> {
  deps: SubscriptionDeps;
  /** The channel, or a pattern of channels. */
  pattern: string;
  start: StartPoint;
  sink: EventSink;
  /** The encoding of the frame that subscribed, which its events go out in. */
  encoding: Encoding;
  /** Whose subscription this is (its connection), handed back to the end handler. */
  owner: Owner;
  /** The namespace's replay limits, for a resumed subscription (see Pace). */
  pace?: Pace;
}

/**
 * Told once when a subscription's delivery is over; one function serves every subscription of a
 * process.
 */
export type SubscriptionEnd<Owner> = (sub: Subscription<Owner>, err?: Error) => void;

/**
 * One subscription, delivering every event of its channel (or pattern) after
 * its start once, in cursor order, in three phases (`state`, transitions in
 * subscription-state.ts):
 *
 * 1. PostgreSQL, for what EVENTS no longer holds: up to strictly below the
 *    sequence the stream phase starts at.
 * 2. Catching up on an ordered consumer of its own on EVENTS, filtered to the
 *    pattern (subscription-catch-up.ts).
 * 3. Live, fed by the hub: the process's one consumer, shared by every live
 *    subscription (hub.ts, subscription-live.ts). A subscription that starts
 *    at or after the hub's position goes straight here.
 *
 * The switch from 2 to 3 loses nothing and repeats nothing. The subscription
 * joins the hub *before* it creates its consumer and from then on holds every
 * event the hub offers it. So when the consumer reports that nothing more
 * matches (num_pending 0 at creation, or `pending` 0 on a message), it has
 * read the stream up to at least the hub's position at the join, and every
 * later event is among those held. Delivery goes by stream sequence: an event
 * at or before the last one delivered is dropped, so the overlap is harmless.
 * Holding too much (a long catch-up) gives the held events up and catches up
 * again from where it got to.
 *
 * A consumer the server lost is replaced by one starting right after the last
 * event handed to the sink. Outages of the bus or the database pause the
 * subscription; it goes on when they are back.
 */
export class Subscription<Owner = unknown> implements HubMember {
  readonly owner: Owner;
  readonly #deps: SubscriptionDeps;
  readonly #delivery: Delivery;
  /**
   * Until the subscription is first live; kept after that only when it cannot use the hub's
   * epoch and max age.
   */
  #start: StartPoint | undefined;
  /**
   * False when the stream was recreated after the hub started: the hub's sequences are not
   * this subscription's. Fixed by the start, not a phase: such a subscription reads its own
   * consumer in every phase until it stops.
   */
  readonly #shared: boolean;
  #state: SubscriptionState;
  /** Set by `run`; cleared once told, so it is told once. */
  #onEnd?: SubscriptionEnd<Owner>;
  /** Made when first needed (a retry's sleep): most subscriptions never wait. */
  #abort?: AbortController;

  constructor(opts: SubscriptionOptions<Owner>) {
    const { deps, start } = opts;
    this.owner = opts.owner;
    this.#deps = deps;
    this.#delivery = new Delivery(deps, opts.pattern, opts.encoding, opts.sink, start.fromSeq);
    this.#start = start;
    this.#shared = start.epoch === deps.hub.epoch;
    this.#state = { phase: "opening", pace: opts.pace };
  }

  get pattern(): string {
    return this.#delivery.pattern;
  }

  /** How its frames are encoded: the encoding of the frame that subscribed. */
  get encoding(): Encoding {
    return this.#delivery.encoding;
  }

  get phase(): Phase {
    return this.#state.phase;
  }

  /**
   * Joins the hub and creates the catch-up consumer if one is needed, so a bus failure is
   * reported before `subscribed`; events flow once `run` is called.
   */
  async open(): Promise<void> {
    const s = this.#state;
    const start = this.#start!;
    const pace = s.phase === "opening" ? s.pace : undefined;
    const catchUp = new CatchUp(this.#catchUpHost(), start.resumed, pace);
    this.#move({ type: "open", catchUp, fromStore: start.fromStore });
    const next = this.#delivery.next;
    if (this.#shared && !start.fromStore && next - 1 >= this.#deps.hub.position) return;
    try {
      await catchUp.open(next);
    } catch (err) {
      this.#end(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /**
   * Starts delivering; `onEnd` is called once when delivery is over: stopped,
   * the connection closed, or an error retrying cannot fix (passed along).
   */
  run(onEnd: SubscriptionEnd<Owner>): void {
    const s = this.#state;
    if (s.phase === "stopped") return onEnd(this, s.failure);
    this.#onEnd = onEnd;
    void this.#catchUp("start");
  }

  stop(): void {
    this.#end(undefined);
  }

  /**
   * Replaces the catch-up consumer at the next expected sequence. Called when
   * NATS reconnects, rather than waiting for the lost consumer's status (up to
   * a pull's expiry). A live subscription has none: the hub replaces its own.
   */
  restart(): void {
    const s = this.#state;
    if (isCatchingUp(s)) s.catchUp.restart();
  }

  offer(ev: OutEvent): void {
    if (ev.seq < this.#delivery.next) return;
    const s = this.#state;
    if (s.phase === "live") {
      if (s.queue(ev)) this.#deps.hub.flushSoon(this);
    } else if (isCatchingUp(s)) s.catchUp.hold(ev);
  }

  flush(): void {
    const s = this.#state;
    if (s.phase !== "live") return;
    const r = s.flush(this.#delivery);
    if (r === "closed") this.stop();
    else if (r === "buffered") {
      this.#move({ type: "pause" });
      void this.#catchUp("paused");
    }
  }

  gap(): void {
    const s = this.#state;
    if (isCatchingUp(s)) s.catchUp.giveUp();
    else if (s.phase === "live") void this.#catchUp("gap");
  }

  recreated(): void {
    this.#end(
      new JetmeshError(
        "unavailable",
        "the event stream was recreated; resubscribe from your last cursor",
      ),
    );
  }

  /** The one door to the state: the transition says what changes, this does it. */
  #move(move: Move): void {
    const t = transition(this.#state, move, this.#shared);
    this.#state = t.to;
    if (t.ended) this.#abort?.abort();
    if (t.leaveHub) this.#deps.hub.remove(this);
    if (t.joinHub) this.#deps.hub.add(this);
    t.close?.close();
    if (t.to.phase === "live" && this.#shared) {
      // A live subscription holds only its place in the hub; the hub knows the epoch and max age.
      this.#start = undefined;
    }
    if (t.ended) {
      const onEnd = this.#onEnd;
      this.#onEnd = undefined;
      onEnd?.(this, move.type === "stop" ? move.failure : undefined);
    }
  }

  /** Ends delivery, unless it has ended already (the first reason is the one told). */
  #end(failure: Error | undefined): void {
    if (this.#state.phase !== "stopped") this.#move({ type: "stop", failure });
  }

  /**
   * Phases 1 and 2, then live; runs again each time the subscription leaves
   * the hub. Only one runs at a time: it starts from `run`, or from live, where
   * none is running.
   */
  async #catchUp(why: "start" | "paused" | "gap"): Promise<void> {
    let catchUp: CatchUp | undefined;
    try {
      const s = this.#state;
      if (why === "start") {
        if (!isCatchingUp(s)) return;
        catchUp = s.catchUp;
        if (s.phase === "catchingUpFromStore") {
          const start = this.#start!;
          const before = { epoch: start.epoch, seq: start.fromSeq };
          if (!(await catchUp.fromStore(start.after, before))) return this.#finish(catchUp);
          this.#move({ type: "storeReplayed" });
        }
      } else {
        if (why === "paused") await this.#delivery.writable();
        catchUp = this.#rejoin();
        if (!catchUp || !(await catchUp.replace())) return this.#finish(catchUp);
      }
      while (this.#state.phase !== "stopped") {
        if (catchUp.reading && !(await catchUp.fromStream())) return this.#finish(catchUp);
        if (catchUp.heldComplete) return this.#goLive();
        const rejoined = this.#rejoin();
        if (!rejoined) return this.#finish(catchUp);
        catchUp = rejoined;
        if (!(await catchUp.replace())) return this.#finish(catchUp);
      }
      this.#finish(catchUp);
    } catch (err) {
      this.#finish(catchUp, err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** From here the hub's offers are delivered as they come, those held while catching up first. */
  #goLive(): void {
    this.#move({ type: "caughtUp" });
    this.flush();
  }

  /**
   * Joins the hub afresh with a new catch-up, to read from the last event delivered on, holding
   * what the hub offers meanwhile; undefined once stopped.
   */
  #rejoin(): CatchUp | undefined {
    const s = this.#state;
    if (s.phase === "stopped") return undefined;
    const pace = isCatchingUp(s) ? s.catchUp.pace : undefined;
    const catchUp = new CatchUp(this.#catchUpHost(), true, pace);
    this.#move({ type: "rejoin", catchUp });
    return catchUp;
  }

  /** A catch-up that ends delivery. */
  #finish(catchUp: CatchUp | undefined, failure?: Error): void {
    this.#end(failure);
    // Its consumer may have been made after a stop (the creation was under way then).
    catchUp?.close();
  }

  #catchUpHost(): CatchUpHost {
    return {
      deps: this.#deps,
      delivery: this.#delivery,
      shared: this.#shared,
      stopped: () => this.#state.phase === "stopped",
      // The start's, or the hub's once the start is dropped (they are equal then).
      epoch: () => this.#start?.epoch ?? this.#deps.hub.epoch,
      maxAgeMs: () => this.#start?.maxAgeMs ?? this.#deps.hub.maxAgeMs,
      wakeOnStop: () => this.#wakeOnStop(),
    };
  }

  /** Aborted by stop(), so a sleep between retries ends with the subscription. */
  #wakeOnStop(): AbortSignal {
    const c = (this.#abort ??= new AbortController());
    if (this.#state.phase === "stopped") c.abort();
    return c.signal;
  }
}

import {
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JsMsg,
} from "@nats-io/jetstream";
import {
  type Cursor,
  decodeEnvelope,
  EVENTS_STREAM,
  eventsSubject,
  formatCursor,
  isWildcard,
} from "../../subjects/mod.ts";
import { backoffMs, isRetryable, sleep } from "../bus/mod.ts";
import type { Encoding } from "../codec/mod.ts";
import { errorCode, JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Store } from "../store/mod.ts";
import { ATTR, endSpan, type Span, SpanKind, type Tracing } from "../telemetry/mod.ts";
import type { SendResult } from "../wsserver/mod.ts";
import { OutEvent } from "./event.ts";
import type { Hub, HubMember } from "./hub.ts";
import { CONSUMER_LOST } from "./lost.ts";
import type { NotifyMetrics } from "./metrics.ts";
import type { Pace } from "./pace.ts";
import type { StartPoint } from "./cursor-resume.ts";

/** Where a subscription's events go: its connection's outbox. */
export interface EventSink {
  /** Sends frames encoded in `enc` in order, as one write where the server allows. */
  sendEncoded(frames: ReadonlyArray<string | Uint8Array>, enc: Encoding): SendResult;
  /** Resolves once the connection's send buffer is below its limit again (or it closed). */
  writable(): Promise<void>;
}

export interface SubscriptionDeps {
  js: JetStreamClient;
  /** The process's shared consumer. */
  hub: Hub;
  store: Pick<Store, "replay">;
  /** The EVENTS stream's first sequence now. */
  firstSeq: () => Promise<number>;
  log: Logger;
  metrics: NotifyMetrics;
  /** Set when tracing is on. */
  tracing?: Tracing;
}

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
const MAX_HELD = 4096;
/**
 * Opening times are kept relative to this: a small integer fits in the object, a timestamp is a
 * heap number of its own.
 */
const CLOCK_ORIGIN = Date.now();

/**
 * Told once when a subscription's delivery is over; one function serves every subscription of a
 * process.
 */
export type SubscriptionEnd = (sub: Subscription, err?: Error) => void;

/**
 * One subscription, delivering every event of its channel (or pattern) after
 * its start once, in cursor order, in three phases:
 *
 * 1. PostgreSQL, for what EVENTS no longer holds: up to strictly below the
 *    sequence the stream phase starts at.
 * 2. Catching up on an ordered consumer of its own on EVENTS, filtered to the
 *    pattern. Events that expire after the start was chosen but before the
 *    consumer reads them show up as a jump in stream sequences; when expiry is
 *    possible there (the first read of a resumed subscription, or a previous
 *    message close to its max age) the stream's first sequence is checked and
 *    the expired range is read from PostgreSQL before the message that
 *    follows. A jump is otherwise normal: the sequences in between belong to
 *    other channels.
 * 3. Live, fed by the hub: the process's one consumer, shared by every live
 *    subscription (hub.ts). A subscription that starts at or after the hub's
 *    position goes straight here.
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
 * A live subscription whose socket is over the pause limit leaves the hub, so
 * a slow client never holds up the others; once the socket drains (the
 * outbox closes it with 4008 if that takes too long) it catches up again
 * from its last event. It does the same when the hub reports a gap.
 *
 * A consumer the server lost is replaced by one starting right after the last
 * event handed to the sink. Outages of the bus or the database pause the
 * subscription; it goes on when they are back. Nothing is acked: the
 * subscriber's cursor is the state.
 */
export class Subscription implements HubMember {
  readonly pattern: string;
  /** Whose subscription this is (its connection), for the end handler. */
  readonly owner: unknown;
  readonly #deps: SubscriptionDeps;
  /**
   * Until the subscription is first live; kept after that only when it cannot use the hub's
   * epoch and max age.
   */
  #start: StartPoint | undefined;
  readonly #sink: EventSink;
  /** How its frames are encoded: the encoding of the frame that subscribed. */
  readonly encoding: Encoding;
  /** Lets a client with both `chat.a` and `chat.*` tell which subscription an event belongs to. */
  readonly #tag: string | undefined;
  /** Made when first needed (a retry's sleep): most subscriptions never wait. */
  #abort?: AbortController;
  /**
   * Events received at ingest before this (ms after CLOCK_ORIGIN) are replays: their age is
   * not delivery latency.
   */
  readonly #openedAt = Date.now() - CLOCK_ORIGIN;
  /** The next stream sequence to deliver: everything before it was delivered or does not match. */
  #next: number;
  /** The catch-up consumer, and whether it had nothing to deliver when created. */
  #consumer?: Consumer;
  #messages?: ConsumerMessages;
  #emptyAtStart = false;
  /**
   * Stored time of the last stream message delivered; undefined after a (re)start, when expiry
   * is checked at the first message.
   */
  #previousStoredAt?: number;
  #mayHaveGap: boolean;
  /**
   * False when the stream was recreated after the hub started: the hub's sequences are not
   * this subscription's.
   */
  readonly #shared: boolean;
  #inHub = false;
  #live = false;
  /**
   * Events offered by the hub and not yet delivered; complete unless given up (too many, or a
   * gap).
   */
  #held?: OutEvent[];
  #heldComplete = true;
  #onEnd?: SubscriptionEnd;
  /**
   * The namespace's replay limits over a resumed subscription's first catch-up (see Pace);
   * dropped once live.
   */
  #pace: Pace | undefined;
  #stopped = false;
  /** Why delivery ended, when it cannot go on by itself. */
  #failure?: Error;

  constructor(
    deps: SubscriptionDeps,
    pattern: string,
    start: StartPoint,
    sink: EventSink,
    encoding: Encoding,
    owner: unknown,
    pace?: Pace,
  ) {
    this.pattern = pattern;
    this.owner = owner;
    this.#deps = deps;
    this.#start = start;
    this.#sink = sink;
    this.encoding = encoding;
    this.#tag = isWildcard(pattern) ? pattern : undefined;
    this.#next = start.fromSeq;
    this.#mayHaveGap = start.resumed;
    this.#shared = start.epoch === deps.hub.epoch;
    this.#pace = pace;
  }

  /**
   * Joins the hub and creates the catch-up consumer if one is needed, so a bus failure is
   * reported before `subscribed`; events flow once `run` is called.
   */
  async open(): Promise<void> {
    const { hub } = this.#deps;
    if (this.#shared) this.#join();
    if (this.#shared && !this.#start!.fromStore && this.#next - 1 >= hub.position) return;
    try {
      await this.#consume(this.#next);
    } catch (err) {
      this.#quitHub();
      throw err;
    }
  }

  /**
   * Starts delivering; `onEnd` is called once when delivery is over: stopped,
   * the connection closed, or an error retrying cannot fix (passed along).
   * A live subscription holds no pending async work, only its place in the
   * hub: idle connections should cost little more than their socket.
   */
  run(onEnd: SubscriptionEnd): void {
    this.#onEnd = onEnd;
    void this.#catchUp("start");
  }

  /**
   * Phases 1 and 2, then live (see the class comment); runs again each time the subscription
   * leaves the hub.
   */
  async #catchUp(why: "start" | "paused" | "gap"): Promise<void> {
    try {
      const s = this.#start;
      if (why === "start") {
        if (s?.fromStore && !(await this.#fromStore(s.after, { epoch: s.epoch, seq: s.fromSeq }))) {
          return this.stop();
        }
      } else {
        if (why === "paused") await this.#sink.writable();
        if (!(await this.#rejoin())) return this.stop();
      }
      while (!this.#stopped) {
        if (this.#messages && !(await this.#fromStream())) return this.stop();
        if (this.#heldComplete) return this.#goLive();
        if (!(await this.#rejoin())) return this.stop();
      }
    } catch (err) {
      this.#failure ??= err instanceof Error ? err : new Error(String(err));
      this.stop();
    }
  }

  /**
   * Joins the hub again and catches up from the last event delivered, holding what the hub
   * offers meanwhile; false once stopped.
   */
  async #rejoin(): Promise<boolean> {
    if (this.#stopped) return false;
    this.#join();
    this.#mayHaveGap = true;
    this.#previousStoredAt = undefined;
    return (await this.#replace(this.#next)) !== undefined;
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
    this.#quitHub();
    this.#closeConsumer();
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.(this, this.#failure);
  }

  /**
   * Replaces the catch-up consumer at the next expected sequence. Called when
   * NATS reconnects, rather than waiting for the lost consumer's status (up to
   * a pull's expiry). A live subscription has none: the hub replaces its own.
   */
  restart(): void {
    this.#messages?.stop();
  }

  offer(ev: OutEvent): void {
    if (ev.seq < this.#next || !this.#heldComplete) return;
    const held = (this.#held ??= []);
    if (held.length >= MAX_HELD && !this.#live) {
      // The catch-up is far behind: give up what is held and catch up further instead.
      this.#held = undefined;
      this.#heldComplete = false;
      return;
    }
    if (held.push(ev) === 1 && this.#live) this.#deps.hub.flushSoon(this);
  }

  recreated(): void {
    this.#failure ??= new JetmeshError(
      "unavailable",
      "the event stream was recreated; resubscribe from your last cursor",
    );
    this.stop();
  }

  gap(): void {
    this.#held = undefined;
    this.#heldComplete = false;
    if (this.#live) this.#leaveLive("gap");
  }

  flush(): void {
    const held = this.#held;
    if (!this.#live || !held) return;
    this.#held = undefined;
    const r = this.#deliverLive(held);
    if (r === "closed") this.stop();
    else if (r === "buffered") this.#leaveLive("paused");
  }

  #join(): void {
    this.#held = undefined;
    this.#heldComplete = true;
    if (!this.#inHub) this.#deps.hub.add(this);
    this.#inHub = true;
  }

  #quitHub(): void {
    if (this.#inHub) this.#deps.hub.remove(this);
    this.#inHub = false;
    this.#live = false;
    this.#held = undefined;
  }

  /** From here the hub's offers are delivered as they come. */
  #goLive(): void {
    this.#live = true;
    this.#pace = undefined;
    // A live subscription holds only its place in the hub; the hub knows the epoch and max age.
    if (this.#shared) this.#start = undefined;
    this.flush();
  }

  /**
   * Paused or gapped: the hub's events are no longer all delivered in order, so stop taking
   * them and catch up again.
   */
  #leaveLive(why: "paused" | "gap"): void {
    this.#quitHub();
    void this.#catchUp(why);
  }

  async #consume(fromSeq: number): Promise<void> {
    const consumer = await this.#deps.js.consumers.get(EVENTS_STREAM, {
      filter_subjects: eventsSubject(this.pattern),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: fromSeq,
    });
    this.#consumer = consumer;
    // The creation's answer: nothing matches from `fromSeq` to the stream's end.
    this.#emptyAtStart = (await consumer.info(true)).num_pending === 0;
    // Heartbeats every 5 s, so a consumer lost without a reconnect is noticed within 10 s.
    const messages = await consumer.consume({ max_messages: 256, expires: 10_000 });
    this.#messages = messages;
    if (this.#stopped) messages.stop();
    (async () => {
      for await (const s of messages.status()) {
        if (!CONSUMER_LOST.has(s.type)) continue;
        this.#deps.log.info("ordered consumer lost, replacing it", {
          pattern: this.pattern,
          status: s.type,
        });
        messages.stop();
        return;
      }
    })().catch(() => {});
  }

  /** Stops the catch-up consumer and deletes it from the server rather than leave it to expire. */
  #closeConsumer(): void {
    this.#messages?.stop();
    this.#messages = undefined;
    this.#consumer?.delete().catch(() => {});
    this.#consumer = undefined;
  }

  /** Replays stored events strictly between two cursors; false when delivery must end. */
  async #fromStore(after: Cursor, before: Cursor): Promise<boolean> {
    for (let from = after;;) {
      const page = from;
      const rows = await this.#retrying(
        "replay from PostgreSQL",
        () => this.#deps.store.replay(this.pattern, page, before, STORE_PAGE),
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
   * Reads the catch-up consumer (replacing it when lost). Returns true once it
   * has caught up with the hub, false when delivery must end. Without the hub
   * (`#shared` false) it reads until the end.
   */
  async #fromStream(): Promise<boolean> {
    const epoch = this.#epoch;
    while (!this.#stopped) {
      const messages = this.#messages ?? (await this.#replace(this.#next));
      if (!messages) return false;
      if (this.#shared && this.#emptyAtStart) return await this.#caughtUp(undefined);
      for await (const m of messages) {
        if (this.#stopped) return false;
        const seq = m.info.streamSequence;
        // The cursor only moves forward, whatever a replaced consumer hands over.
        if (seq < this.#next) continue;
        if (seq > this.#next && !(await this.#fillExpired(seq))) return false;
        this.#previousStoredAt = m.info.timestampNanos / 1e6;
        if (!(await this.#deliverMessage(m, epoch))) return false;
        if (this.#shared && m.info.pending === 0) return await this.#caughtUp(seq);
      }
      // Ended by stop(), restart() or a lost consumer; unless stopped, a new consumer
      // continues at `#next`.
      this.#messages = undefined;
    }
    return false;
  }

  /**
   * The consumer has nothing more: drop it; with nothing read yet, make sure nothing expired
   * on the way.
   */
  async #caughtUp(lastSeq: number | undefined): Promise<boolean> {
    this.#closeConsumer();
    if (lastSeq === undefined && this.#mayHaveExpired()) {
      const first = await this.#retrying("stream info", () => this.#deps.firstSeq());
      if (first > this.#next) {
        const epoch = this.#epoch;
        if (!(await this.#fromStore({ epoch, seq: this.#next - 1 }, { epoch, seq: first }))) {
          return false;
        }
        this.#next = first;
      }
    }
    this.#mayHaveGap = false;
    return !this.#stopped;
  }

  /**
   * Before the message at `seq`: reads from PostgreSQL what expired since `#next`, if anything
   * could have.
   */
  async #fillExpired(seq: number): Promise<boolean> {
    if (!this.#mayHaveExpired()) return true;
    const first = await this.#retrying("stream info", () => this.#deps.firstSeq());
    if (first <= this.#next) return true;
    const epoch = this.#epoch;
    const before = { epoch, seq: Math.min(first, seq) };
    this.#deps.log.debug("events expired under a subscription, reading them from PostgreSQL", {
      pattern: this.pattern,
      from: this.#next,
      before: before.seq,
    });
    return await this.#fromStore({ epoch, seq: this.#next - 1 }, before);
  }

  /**
   * A new consumer from the next undelivered sequence, retried while the bus is away;
   * undefined once stopped.
   */
  async #replace(next: number): Promise<ConsumerMessages | undefined> {
    this.#closeConsumer();
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        await this.#consume(next);
        return this.#messages;
      } catch (err) {
        if (attempt % 10 === 0) {
          this.#deps.log.warn("ordered consumer not available yet", {
            err,
            pattern: this.pattern,
            attempt,
          });
        }
        await sleep(backoffMs(attempt, 100, 2000), this.#wakeOnStop());
      }
    }
    return undefined;
  }

  /**
   * Runs `fn` until it succeeds, waiting out outages of the bus or the database; throws other
   * errors.
   */
  async #retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0;; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const transient = isRetryable(err) || errorCode(err) === "unavailable";
        if (!transient || this.#stopped) throw err;
        if (attempt % 10 === 0) {
          this.#deps.log.warn(`${what} failed, retrying`, { err, pattern: this.pattern, attempt });
        }
        await sleep(backoffMs(attempt, 100, 2000), this.#wakeOnStop());
      }
    }
  }

  /** Aborted by stop(), so a sleep between retries ends with the subscription. */
  #wakeOnStop(): AbortSignal {
    const c = (this.#abort ??= new AbortController());
    if (this.#stopped) c.abort();
    return c.signal;
  }

  /**
   * The stream's epoch: the start's, or the hub's once the start is dropped (they are equal
   * then).
   */
  get #epoch(): number {
    return this.#start?.epoch ?? this.#deps.hub.epoch;
  }

  #mayHaveExpired(): boolean {
    const previous = this.#previousStoredAt;
    if (previous === undefined) return this.#mayHaveGap;
    const maxAge = this.#start?.maxAgeMs ?? this.#deps.hub.maxAgeMs;
    return maxAge > 0 && previous + maxAge - EXPIRY_MARGIN_MS <= Date.now();
  }

  /**
   * Delivers one event of the catch-up consumer; false once delivery must end. An undecodable
   * event is logged and skipped.
   */
  async #deliverMessage(m: JsMsg, epoch: number): Promise<boolean> {
    const seq = m.info.streamSequence;
    let ev: OutEvent;
    try {
      ev = OutEvent.fromEnvelope(decodeEnvelope(m.data), { epoch, seq }, {
        subject: m.subject,
        deliveryCount: m.info.deliveryCount,
        headers: m.headers,
      });
    } catch (err) {
      this.#next = seq + 1;
      this.#deps.metrics.received.inc();
      const span = this.#span(seq, {
        subject: m.subject,
        deliveryCount: m.info.deliveryCount,
        headers: m.headers,
      });
      this.#deps.log.error("undecodable event skipped", {
        err,
        seq,
        trace_id: span?.spanContext().traceId,
      });
      endSpan(span, err);
      return true;
    }
    return await this.#deliver(ev);
  }

  /**
   * Sends one event, waiting for the socket to drain instead of buffering without bound; false
   * once it closed.
   */
  async #deliver(ev: OutEvent): Promise<boolean> {
    if (this.#stopped) return false;
    const wait = this.#pace?.next(ev.frame.ts) ?? 0;
    if (wait > 0) {
      await sleep(wait, this.#wakeOnStop());
      if (this.#stopped) return false;
    }
    const r = this.#deliverLive([ev]);
    if (r === "closed") return false;
    if (r === "buffered") await this.#sink.writable();
    return !this.#stopped;
  }

  /**
   * Sends events in one write, with a delivery span and the delivery metrics
   * for each one from the stream. Advances `#next` past them.
   */
  #deliverLive(events: OutEvent[]): SendResult {
    if (this.#stopped) return "closed";
    const { metrics } = this.#deps;
    const frames: Array<string | Uint8Array> = [];
    const spans: Array<Span | undefined> = [];
    const fromStream: OutEvent[] = [];
    for (const ev of events) {
      if (ev.origin) {
        // Rows from PostgreSQL have no sequence of this stream.
        if (ev.seq < this.#next) continue;
        this.#next = ev.seq + 1;
        fromStream.push(ev);
        spans.push(this.#span(ev.seq, ev.origin, ev));
      }
      frames.push(ev.encoded(this.encoding, this.#tag));
    }
    if (frames.length === 0) return "sent";
    if (fromStream.length > 0) metrics.received.inc(fromStream.length);
    const r = this.#sink.sendEncoded(frames, this.encoding);
    if (r === "closed") {
      for (const span of spans) endSpan(span, "subscriber connection closed");
      return r;
    }
    if (fromStream.length > 0) metrics.delivered.inc(fromStream.length);
    const now = Date.now();
    for (const ev of fromStream) {
      if (ev.frame.ts - CLOCK_ORIGIN >= this.#openedAt) {
        metrics.publishToDeliver.observe((now - ev.frame.ts) / 1000);
      }
    }
    for (const span of spans) endSpan(span);
    return r;
  }

  /**
   * One delivery span per subscription, child of route's span: the event's trace shows every
   * subscriber it reached.
   */
  #span(seq: number, origin: NonNullable<OutEvent["origin"]>, ev?: OutEvent): Span | undefined {
    const span = this.#deps.tracing?.startFromHeaders(
      "notify deliver",
      SpanKind.CONSUMER,
      origin.headers,
      {
        [ATTR.messagingSystem]: "nats",
        [ATTR.operation]: "deliver",
        [ATTR.destination]: origin.subject,
        [ATTR.stream]: EVENTS_STREAM,
        [ATTR.streamSeq]: seq,
        [ATTR.deliveryCount]: origin.deliveryCount,
        [ATTR.subscription]: this.pattern,
      },
    );
    if (span && ev) {
      span.setAttribute(ATTR.eventId, ev.frame.id);
      span.setAttribute(ATTR.channel, ev.frame.channel);
    }
    return span;
  }
}

import type {
  ConsumerMessages,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
  StreamInfo,
} from "@nats-io/jetstream";
import { DeliverPolicy } from "@nats-io/jetstream";
import {
  channelOf,
  channelPatternRegex,
  decodeEnvelope,
  epochOf,
  EVENTS_PREFIX,
  EVENTS_STREAM,
  isWildcard,
} from "../../subjects/mod.ts";
import { backoffMs, sleep } from "../bus/mod.ts";
import type { Logger } from "../log/mod.ts";
import { OutEvent } from "./event.ts";
import { CONSUMER_LOST } from "./lost.ts";

/** What the hub needs of a subscription. */
export interface HubMember {
  readonly pattern: string;
  /** Every event on a matching channel, in stream order, while the member is in the hub. */
  offer(ev: OutEvent): void;
  /**
   * Called once after the events of one read from NATS were offered, when the member asked
   * with `flushSoon`.
   */
  flush(): void;
  /**
   * Events left the stream before the hub read them: what was offered is not every event any
   * more.
   */
  gap(): void;
  /**
   * EVENTS was deleted and created again: the member's sequences belong to a stream that is
   * gone.
   */
  recreated(): void;
}

/**
 * One member, or several: most channels have a single subscriber on a notify, and a Set costs
 * more than the subscription.
 */
type Members = HubMember | Set<HubMember>;

interface Wildcard {
  re: RegExp;
  members: Set<HubMember>;
}

/** Messages per pull of the shared consumer. */
const PULL_BATCH = 1024;

/**
 * One ordered consumer on the whole EVENTS stream per notify process, shared
 * by every live subscription: each event is pulled and decoded once, its
 * frame encoded once per encoding, however many subscribers it has; a live
 * subscription costs no server-side consumer. `position` is the last stream
 * sequence the hub has offered. A subscription that starts at or before it
 * catches up on a consumer of its own first (see Subscription).
 *
 * The consumer is unfiltered, so consecutive messages have consecutive
 * sequences: a jump means events expired or were removed before the hub read
 * them, and every member is told (`gap`) to read the missing range itself.
 * Events on channels nobody here subscribes to are dropped after a map lookup
 * and the wildcard tests, without being decoded.
 *
 * A consumer the server lost is replaced at `position + 1`, like a
 * subscription's own (`restart` on NATS reconnect, or its status).
 */
export class Hub {
  #epoch: number;
  /** EVENTS max age in ms; 0 when unlimited. */
  #maxAgeMs: number;
  #position: number;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #log: Logger;
  readonly #exact = new Map<string, Members>();
  readonly #wild = new Map<string, Wildcard>();
  #dirty: HubMember[] = [];
  #messages?: ConsumerMessages;
  #stopped = false;
  readonly #abort = new AbortController();
  #loop?: Promise<void>;

  private constructor(js: JetStreamClient, jsm: JetStreamManager, si: StreamInfo, log: Logger) {
    this.#js = js;
    this.#jsm = jsm;
    this.#epoch = epochOf(si.created);
    this.#maxAgeMs = Math.round(si.config.max_age / 1e6);
    this.#position = si.state.last_seq;
    this.#log = log;
  }

  /** Starts at the stream's end: a subscription never needs the hub for events stored before it. */
  static async start(js: JetStreamClient, jsm: JetStreamManager, log: Logger): Promise<Hub> {
    const hub = new Hub(js, jsm, await jsm.streams.info(EVENTS_STREAM), log);
    hub.#messages = await hub.#consume();
    hub.#loop = hub.#run();
    return hub;
  }

  get epoch(): number {
    return this.#epoch;
  }

  get maxAgeMs(): number {
    return this.#maxAgeMs;
  }

  get position(): number {
    return this.#position;
  }

  add(m: HubMember): void {
    if (isWildcard(m.pattern)) {
      let w = this.#wild.get(m.pattern);
      if (!w) {
        this.#wild.set(
          m.pattern,
          w = { re: new RegExp(channelPatternRegex(m.pattern)), members: new Set() },
        );
      }
      w.members.add(m);
      return;
    }
    const had = this.#exact.get(m.pattern);
    if (had === undefined || had === m) this.#exact.set(m.pattern, m);
    else if (had instanceof Set) had.add(m);
    else this.#exact.set(m.pattern, new Set([had, m]));
  }

  remove(m: HubMember): void {
    if (isWildcard(m.pattern)) {
      const w = this.#wild.get(m.pattern);
      if (w?.members.delete(m) && w.members.size === 0) this.#wild.delete(m.pattern);
      return;
    }
    const had = this.#exact.get(m.pattern);
    if (had === m) this.#exact.delete(m.pattern);
    else if (had instanceof Set && had.delete(m) && had.size === 0) this.#exact.delete(m.pattern);
  }

  /**
   * Asks for `m.flush()` once the current read from NATS has been offered: one send per
   * subscriber per read.
   */
  flushSoon(m: HubMember): void {
    if (this.#dirty.push(m) === 1) queueMicrotask(() => this.#flush());
  }

  /**
   * Replaces the consumer at the next sequence; called when NATS reconnects (see
   * Subscription.restart).
   */
  restart(): void {
    this.#messages?.stop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#messages?.stop();
    await this.#loop;
  }

  async #consume(): Promise<ConsumerMessages> {
    const consumer = await this.#js.consumers.get(EVENTS_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.#position + 1,
    });
    // A callback: the client hands over every message of one socket read
    // synchronously, and the flush after them sends each subscriber one batch.
    // Heartbeats every 5 s, so a consumer lost without a reconnect is noticed within 10 s.
    const messages = await consumer.consume({
      max_messages: PULL_BATCH,
      expires: 10_000,
      callback: (m) => this.#dispatch(m),
    });
    (async () => {
      for await (const s of messages.status()) {
        if (!CONSUMER_LOST.has(s.type)) continue;
        this.#log.info("shared consumer lost, replacing it", {
          status: s.type,
          position: this.#position,
        });
        messages.stop();
        return;
      }
    })().catch(() => {});
    return messages;
  }

  /** Waits for the consumer to end and replaces it, until stopped. */
  async #run(): Promise<void> {
    while (!this.#stopped) {
      await this.#messages?.closed().catch(() => {});
      this.#messages = undefined;
      for (let attempt = 0; !this.#stopped && !this.#messages; attempt++) {
        try {
          await this.#checkEpoch();
          this.#messages = await this.#consume();
          if (this.#stopped) this.#messages.stop();
        } catch (err) {
          if (attempt % 10 === 0) {
            this.#log.warn("shared consumer not available yet", { err, attempt });
          }
          await sleep(backoffMs(attempt, 100, 2000), this.#abort.signal);
        }
      }
    }
  }

  /**
   * A lost consumer may mean EVENTS was deleted and created again: then the
   * hub reads the new stream from its start, and every member ends (its
   * client resubscribes from its last cursor, which replays the old epoch
   * from PostgreSQL).
   */
  async #checkEpoch(): Promise<void> {
    const si = await this.#jsm.streams.info(EVENTS_STREAM);
    const epoch = epochOf(si.created);
    if (epoch === this.#epoch) return;
    this.#log.warn("EVENTS was recreated: ending live subscriptions, which resume by cursor", {
      epoch,
    });
    this.#epoch = epoch;
    this.#maxAgeMs = Math.round(si.config.max_age / 1e6);
    this.#position = 0;
    for (const member of this.#members()) member.recreated();
  }

  #flush(): void {
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const m of dirty) m.flush();
  }

  #dispatch(m: JsMsg): void {
    const seq = m.info.streamSequence;
    // Dedupe (docs/dedupe.md): a replaced consumer may hand over what was offered already.
    if (seq <= this.#position) return;
    if (seq > this.#position + 1) this.#gap(seq);
    this.#position = seq;
    const channel = channelOf(EVENTS_PREFIX, m.subject) ?? m.subject;
    let ev: OutEvent | null | undefined;
    const offer = (members: Members) => {
      ev ??= this.#event(m, seq);
      if (!ev) return;
      if (members instanceof Set) { for (const member of members) member.offer(ev); }
      else members.offer(ev);
    };
    const exact = this.#exact.get(channel);
    if (exact) offer(exact);
    for (const w of this.#wild.values()) if (w.re.test(channel)) offer(w.members);
  }

  #gap(seq: number): void {
    this.#log.debug("events left the stream before the shared consumer read them", {
      from: this.#position + 1,
      before: seq,
    });
    for (const member of this.#members()) member.gap();
  }

  /** Every member, copied: members leave while being told. */
  #members(): HubMember[] {
    const all: HubMember[] = [];
    for (const members of this.#exact.values()) {
      if (members instanceof Set) all.push(...members);
      else all.push(members);
    }
    for (const w of this.#wild.values()) all.push(...w.members);
    return all;
  }

  #event(m: JsMsg, seq: number): OutEvent | null {
    try {
      const origin = {
        subject: m.subject,
        deliveryCount: m.info.deliveryCount,
        headers: m.headers,
      };
      return OutEvent.fromEnvelope(decodeEnvelope(m.data), { epoch: this.#epoch, seq }, origin);
    } catch (err) {
      this.#log.error("undecodable event skipped", { err, seq });
      return null;
    }
  }
}

// Fakes of what a subscription uses (SubscriptionDeps and its sink), for the unit tests beside
// it: an in-memory EVENTS stream with ordered consumers, a hub, PostgreSQL and a socket.
import type { ConsumerMessages, JsMsg, OrderedConsumerOptions } from "@nats-io/jetstream";
import { Registry } from "prom-client";
import {
  channelPatternRegex,
  type Cursor,
  encodeEnvelope,
  type Envelope,
  parseCursor,
} from "../../subjects/mod.ts";
import type { Encoding } from "../codec/mod.ts";
import { createLogger } from "../log/mod.ts";
import type { EventRow } from "../store/mod.ts";
import type { SendResult } from "../wsserver/mod.ts";
import type { StartPoint } from "./cursor-resume.ts";
import { OutEvent } from "./event.ts";
import type { HubMember } from "./hub.ts";
import { notifyMetrics } from "./metrics.ts";
import type { Pace } from "./pace.ts";
import { Subscription } from "./subscription.ts";
import type { EventSink, SubscriptionDeps } from "./subscription-deps.ts";

export const EPOCH = 1_764_000_000_000;
export const CHANNEL = "chat.room";

export function envelope(seq: number, channel = CHANNEL, ts = Date.now()): Envelope {
  return { v: 1, id: `alice:m-${seq}`, channel, ts, publisher: "alice", data: { seq } };
}

/** Resolves once `cond` holds, checking after every turn of the event loop. */
export async function until(cond: () => boolean, what = "condition"): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Something a test opens to let a fake go on; every waiter wakes on `open`. */
export class Gate {
  #waiting: Array<() => void> = [];
  closed = false;

  wait(): Promise<void> {
    if (!this.closed) return Promise.resolve();
    return new Promise((r) => this.#waiting.push(r));
  }

  open(): void {
    this.closed = false;
    this.wake();
  }

  wake(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w();
  }
}

interface Stored {
  seq: number;
  channel: string;
  storedAt: number;
  /** Not an envelope: the subscription skips it. */
  bad?: boolean;
}

/** EVENTS in memory; its ordered consumers deliver what matches their filter from their start. */
export class FakeStream {
  readonly stored: Stored[] = [];
  /** Everything below has expired. */
  firstSeq = 1;
  /** Where each consumer started, in order of creation. */
  readonly starts: number[] = [];
  readonly consumers: FakeConsumer[] = [];
  /** Thrown by the next `consumers.get`, one each. */
  readonly getErrors: Error[] = [];
  /** Closed: consumers are made but deliver nothing until it opens. */
  readonly gate = new Gate();
  /** Resolves `consumers.get` calls only once open. */
  readonly creation = new Gate();
  readonly #changed = new Gate();

  get lastSeq(): number {
    return this.stored.at(-1)?.seq ?? 0;
  }

  append(channel = CHANNEL, opts: { storedAt?: number; bad?: boolean } = {}): number {
    const seq = this.lastSeq + 1;
    this.stored.push({ seq, channel, storedAt: opts.storedAt ?? Date.now(), bad: opts.bad });
    this.changed();
    return seq;
  }

  changed(): void {
    this.#changed.closed = true;
    this.#changed.wake();
  }

  nextChange(): Promise<void> {
    this.#changed.closed = true;
    return this.#changed.wait();
  }

  matching(pattern: RegExp, from: number): Stored[] {
    return this.stored.filter((s) =>
      s.seq >= from && s.seq >= this.firstSeq && pattern.test(s.channel)
    );
  }

  readonly js = {
    consumers: {
      get: async (_stream: string, opts: Partial<OrderedConsumerOptions>) => {
        await this.creation.wait();
        const err = this.getErrors.shift();
        if (err) throw err;
        const subject = String(opts.filter_subjects).replace(/^events\./, "");
        const c = new FakeConsumer(
          this,
          new RegExp(channelPatternRegex(subject)),
          opts.opt_start_seq!,
        );
        this.starts.push(c.startSeq);
        this.consumers.push(c);
        return c;
      },
    },
  } as unknown as SubscriptionDeps["js"];
}

export class FakeConsumer {
  deleted = false;
  messages?: FakeMessages;

  constructor(readonly stream: FakeStream, readonly pattern: RegExp, readonly startSeq: number) {}

  info(_cached: boolean): Promise<{ num_pending: number }> {
    return Promise.resolve({
      num_pending: this.stream.matching(this.pattern, this.startSeq).length,
    });
  }

  consume(): Promise<ConsumerMessages> {
    this.messages = new FakeMessages(this);
    return Promise.resolve(this.messages as unknown as ConsumerMessages);
  }

  delete(): Promise<boolean> {
    this.deleted = true;
    return Promise.resolve(true);
  }
}

class FakeMessages {
  stopped = false;

  constructor(readonly consumer: FakeConsumer) {}

  stop(): void {
    this.stopped = true;
    this.consumer.stream.changed();
    this.consumer.stream.gate.wake();
  }

  async *status(): AsyncIterable<{ type: string }> {}

  async *[Symbol.asyncIterator](): AsyncIterator<JsMsg> {
    const { stream, pattern } = this.consumer;
    let next = this.consumer.startSeq;
    while (!this.stopped) {
      const change = stream.nextChange();
      while (stream.gate.closed && !this.stopped) await stream.gate.wait();
      if (this.stopped) return;
      const [m, ...after] = stream.matching(pattern, next);
      if (!m) {
        await change;
        continue;
      }
      next = m.seq + 1;
      yield {
        subject: `events.${m.channel}`,
        data: m.bad ? new Uint8Array([1, 2, 3]) : encodeEnvelope(envelope(m.seq, m.channel)),
        headers: undefined,
        info: {
          streamSequence: m.seq,
          timestampNanos: m.storedAt * 1e6,
          pending: after.length,
          deliveryCount: 1,
        },
      } as unknown as JsMsg;
    }
  }
}

/** The process's shared consumer, driven by the test. */
export class FakeHub {
  epoch = EPOCH;
  maxAgeMs = 0;
  position = 0;
  readonly members = new Set<HubMember>();
  /** "add" and "remove", in order. */
  readonly calls: string[] = [];

  add(m: HubMember): void {
    this.members.add(m);
    this.calls.push("add");
  }

  remove(m: HubMember): void {
    this.members.delete(m);
    this.calls.push("remove");
  }

  flushSoon(m: HubMember): void {
    queueMicrotask(() => m.flush());
  }

  /** Offers the stream's event at `seq` to every member, as the hub's read of it. */
  offer(seq: number, channel = CHANNEL): void {
    this.position = seq;
    const ev = OutEvent.fromEnvelope(envelope(seq, channel), { epoch: this.epoch, seq }, {
      subject: `events.${channel}`,
      deliveryCount: 1,
    });
    for (const m of [...this.members]) m.offer(ev);
  }

  gap(): void {
    for (const m of [...this.members]) m.gap();
  }
}

/** PostgreSQL's stored events. */
export class FakeStore {
  readonly rows: EventRow[] = [];
  /** The ranges asked for, as "after..before" sequences. */
  readonly calls: string[] = [];
  /** Thrown by the next replays, one each. */
  readonly errors: unknown[] = [];
  /** Closed: replays wait until it opens. */
  readonly gate = new Gate();

  add(seq: number, channel = CHANNEL): void {
    this.rows.push({
      eventId: `alice:m-${seq}`,
      channel,
      cursor: { epoch: EPOCH, seq },
      receivedAt: Date.now(),
      publisher: "alice",
      data: { seq },
    });
  }

  replay = async (
    _pattern: string,
    after: Cursor,
    before: Cursor,
    limit: number,
  ): Promise<EventRow[]> => {
    this.calls.push(`${after.seq}..${before.seq}`);
    await this.gate.wait();
    const err = this.errors.shift();
    if (err) throw err;
    return this.rows.filter((r) => r.cursor.seq > after.seq && r.cursor.seq < before.seq)
      .slice(0, limit);
  };
}

/** A connection's outbox: what was sent, and a send buffer the test fills and drains. */
export class FakeSink implements EventSink {
  /** The cursors' sequences of the event frames sent, in order. */
  readonly seqs: number[] = [];
  /** Results of the next sends, one each; "sent" after. */
  readonly results: SendResult[] = [];
  readonly writes: number[] = [];
  readonly drained = new Gate();

  sendEncoded(frames: ReadonlyArray<string | Uint8Array>, _enc: Encoding): SendResult {
    const r = this.results.shift() ?? "sent";
    if (r === "closed") return r;
    this.writes.push(frames.length);
    for (const f of frames) this.seqs.push(parseCursor(JSON.parse(f as string).cursor)!.seq);
    return r;
  }

  writable(): Promise<void> {
    return this.drained.wait();
  }
}

export interface Rig {
  sub: Subscription<string>;
  stream: FakeStream;
  hub: FakeHub;
  store: FakeStore;
  sink: FakeSink;
  deps: SubscriptionDeps;
  /** What the end handler was told, one entry per call. */
  ends: Array<Error | undefined>;
  logs: string[];
}

/**
 * A subscription to `pattern` over fakes. `after` is a resumed subscription's cursor sequence;
 * without it the subscription starts at the hub's position.
 */
export function rig(
  opts: { after?: number; fromStore?: boolean; pattern?: string; pace?: Pace; epoch?: number } = {},
): Rig {
  const stream = new FakeStream();
  const hub = new FakeHub();
  const store = new FakeStore();
  const sink = new FakeSink();
  const logs: string[] = [];
  const ends: Array<Error | undefined> = [];
  const deps: SubscriptionDeps = {
    js: stream.js,
    hub,
    store,
    firstSeq: () => Promise.resolve(stream.firstSeq),
    log: createLogger({}, { sink: (l) => logs.push(l), level: "debug" }),
    metrics: notifyMetrics(new Registry()),
  };
  let sub: Subscription<string> | undefined;
  return {
    get sub() {
      if (sub) return sub;
      const epoch = opts.epoch ?? EPOCH;
      const resumed = opts.after !== undefined;
      const fromStore = opts.fromStore ?? false;
      const afterSeq = opts.after ?? hub.position;
      const start: StartPoint = {
        epoch,
        fromSeq: fromStore ? stream.firstSeq : afterSeq + 1,
        after: { epoch, seq: afterSeq },
        fromStore,
        resumed,
        maxAgeMs: hub.maxAgeMs,
      };
      const pattern = opts.pattern ?? CHANNEL;
      sub = new Subscription({
        deps,
        pattern,
        start,
        sink,
        encoding: "json",
        owner: "conn-1",
        pace: opts.pace,
      });
      return sub;
    },
    stream,
    hub,
    store,
    sink,
    deps,
    ends,
    logs,
  };
}

/** Opens and runs the rig's subscription, recording what its end handler is told. */
export async function start(r: Rig): Promise<Subscription<string>> {
  const sub = r.sub;
  await sub.open();
  sub.run((s, err) => {
    if (s.owner !== "conn-1") throw new Error("the end handler got another subscription");
    r.ends.push(err);
  });
  return sub;
}

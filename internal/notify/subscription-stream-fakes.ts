// The EVENTS stream in memory, with ordered consumers, for the unit tests of a subscription
// (see subscription-fakes.ts for the rest of what it uses).
import type { ConsumerMessages, JsMsg, OrderedConsumerOptions } from "@nats-io/jetstream";
import { channelPatternRegex, encodeEnvelope, type Envelope } from "../../subjects/mod.ts";
import type { SubscriptionDeps } from "./subscription-deps.ts";

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

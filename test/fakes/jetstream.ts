// In-memory stand-ins for the few JetStream client objects the services'
// core classes touch (a pulled message, a publisher), so unit tests can hold a
// PubAck or a commit back and watch what the code does meanwhile: the order of
// publish, PubAck, ack is the guarantee, and only a test that controls each
// step can see it.
import type { JsMsg, PubAck } from "@nats-io/jetstream";
import { encodeEnvelope, type Envelope, ENVELOPE_VERSION } from "../../subjects/mod.ts";

/** A promise the test settles when it chooses. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(err: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every promise callback queued so far run (several rounds: chains are long). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export function envelope(publisher: string, clientId: string, channel: string): Envelope {
  return {
    v: ENVELOPE_VERSION,
    id: `${publisher}:${clientId}`,
    channel,
    ts: 1_764_000_000_000,
    publisher,
    data: { clientId },
  };
}

/** A pulled message that records its acks in `log` (shared by a test to see the order). */
export interface FakeMsg {
  msg: JsMsg;
  /** How many times it was acked (ack or ackAck). */
  acks(): number;
}

export function fakeMsg(
  o: {
    stream: string;
    subject: string;
    seq: number;
    data: Uint8Array;
    deliveryCount?: number;
    log?: string[];
  },
): FakeMsg {
  let acks = 0;
  const ack = () => {
    acks++;
    o.log?.push(`ack ${o.seq}`);
  };
  const msg = {
    subject: o.subject,
    data: o.data,
    headers: undefined,
    info: { stream: o.stream, streamSequence: o.seq, deliveryCount: o.deliveryCount ?? 1 },
    ack,
    ackAck: () => {
      ack();
      return Promise.resolve(true);
    },
    working: () => {},
    nak: () => {},
    term: () => {},
  };
  return { msg: msg as unknown as JsMsg, acks: () => acks };
}

/** A message carrying an envelope, as INGEST or EVENTS holds it. */
export function eventMsg(
  stream: string,
  prefix: string,
  seq: number,
  env: Envelope,
  log?: string[],
  deliveryCount = 1,
): FakeMsg {
  return fakeMsg({
    stream,
    subject: `${prefix}.${env.channel}`,
    seq,
    data: encodeEnvelope(env),
    deliveryCount,
    log,
  });
}

export interface Published {
  subject: string;
  msgID?: string;
  payload: Uint8Array;
  /** Settles this publish: its PubAck, or an error. */
  ack: Deferred<PubAck>;
}

/**
 * A publisher whose PubAcks the test gives (`auto` answers at once with the
 * next sequence); every publish is kept, in order. Typed by shape, not by the
 * bus's publisher interface, so it outlives a rename of that interface.
 */
export class FakePublisher {
  readonly published: Published[] = [];
  #seq = 0;
  constructor(readonly stream: string, private readonly auto = false, private log?: string[]) {}

  publish(subject: string, payload: Uint8Array, opts?: { msgID?: string }): Promise<PubAck> {
    const ack = deferred<PubAck>();
    this.published.push({ subject, msgID: opts?.msgID, payload, ack });
    this.log?.push(`publish ${opts?.msgID}`);
    if (this.auto) this.pubAck(this.published.length - 1);
    return ack.promise.then((pa) => {
      this.log?.push(`pubAck ${opts?.msgID}`);
      return pa;
    });
  }

  /** Answers publish `i` with a PubAck. */
  pubAck(i: number, duplicate = false): void {
    this.published[i].ack.resolve({ stream: this.stream, seq: ++this.#seq, duplicate } as PubAck);
  }
}

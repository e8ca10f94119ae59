// Fakes of what a subscription uses (SubscriptionDeps and its sink), for the unit tests beside
// it: a hub, PostgreSQL and a socket, over the stream of subscription-stream-fakes.ts.
import { Registry } from "prom-client";
import { type Cursor, parseCursor } from "../../subjects/mod.ts";
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
import { CHANNEL, envelope, EPOCH, FakeStream, Gate } from "./subscription-stream-fakes.ts";

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

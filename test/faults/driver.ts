import { Publisher } from "./publisher.ts";
import { matches, Subscriber } from "./subscriber.ts";

export interface LoadOptions {
  ingestWs: string;
  notifyWs: string;
  publishers: number;
  channels: number;
  /** Subscribers on a few concrete channels each; one more subscribes to all of them by pattern. */
  channelSubscribers: number;
  /** Pause between an ack and the channel's next event, per publisher. */
  intervalMs: number;
}

const CHANNEL_PREFIX = "f";

/**
 * The load: every publisher publishes on every channel, one unacked event per
 * channel at a time; subscribers watch overlapping sets of channels and one
 * watches them all through a pattern, so both kinds of subscription are
 * resumed across notify restarts.
 */
export class Load {
  readonly channels: string[];
  readonly publishers: Publisher[];
  readonly subscribers: Subscriber[];

  private constructor(o: LoadOptions) {
    this.channels = Array.from({ length: o.channels }, (_, i) => `${CHANNEL_PREFIX}.c${i}`);
    this.publishers = Array.from({ length: o.publishers }, (_, i) => new Publisher(o.ingestWs, `p${i}`, this.channels, o.intervalMs));
    const perSubscriber = Math.min(3, this.channels.length);
    this.subscribers = Array.from({ length: o.channelSubscribers }, (_, i) =>
      new Subscriber(
        o.notifyWs,
        `s${i}`,
        Array.from({ length: perSubscriber }, (_, j) => this.channels[(i * 2 + j) % this.channels.length]),
      ));
    this.subscribers.push(new Subscriber(o.notifyWs, "s-all", [`${CHANNEL_PREFIX}.>`]));
  }

  /** Subscribers first, confirmed, so they see every event from the first one on. */
  static async start(o: LoadOptions): Promise<Load> {
    const load = new Load(o);
    await Promise.all(load.subscribers.map((s) => s.start()));
    for (const p of load.publishers) p.start();
    return load;
  }

  /** The channels a subscriber should have seen events of. */
  channelsOf(s: Subscriber): string[] {
    return this.channels.filter((c) => s.subscriptions.some((sub) => matches(sub, c)));
  }

  get published(): number {
    return this.publishers.reduce((n, p) => n + p.published, 0);
  }

  get acked(): number {
    return this.publishers.reduce((n, p) => n + p.acked.size, 0);
  }

  /** Stops new events; resolves once every event sent so far is acked. */
  async stopPublishing(): Promise<void> {
    await Promise.all(this.publishers.map((p) => p.stop()));
  }

  close(): void {
    for (const p of this.publishers) p.close();
    for (const s of this.subscribers) s.close();
  }
}

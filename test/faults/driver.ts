import { mintToken } from "../../devkit/tokens.ts";
import { Publisher } from "./publisher.ts";
import { matches, Subscriber } from "./subscriber.ts";

export interface LoadOptions {
  /** Every ingest replica's WebSocket URL: publisher i starts on the i-th, and moves on each reconnect. */
  ingestWs: string[];
  /** Every notify replica's, taken the same way by the subscribers. */
  notifyWs: string[];
  publishers: number;
  channels: number;
  /** Subscribers on a few concrete channels each; one more subscribes to all of them by pattern. */
  channelSubscribers: number;
  /** Pause between an ack and the channel's next event, per publisher. */
  intervalMs: number;
  /**
   * The services' HS256 secret (JETMESH_JWT_SECRET): every client connects with a token of its
   * own.
   */
  secret: string;
}

const CHANNEL_PREFIX = "f";
/**
 * Far longer than a run: an expiry mid-run would close connections the suite does not mean to
 * lose.
 */
const TOKEN_LIFETIME_S = 2 * 3600;

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

  /** `tokens`: each client's token by its name, which is the token's `sub`. */
  private constructor(o: LoadOptions, tokens: Map<string, string>) {
    this.channels = Array.from({ length: o.channels }, (_, i) => `${CHANNEL_PREFIX}.c${i}`);
    this.publishers = publisherNames(o).map((name, i) =>
      new Publisher(rotate(o.ingestWs, i), name, tokens.get(name)!, this.channels, o.intervalMs)
    );
    const perSubscriber = Math.min(3, this.channels.length);
    this.subscribers = subscriberNames(o).map((name, i) =>
      new Subscriber(
        rotate(o.notifyWs, i),
        name,
        tokens.get(name)!,
        i < o.channelSubscribers
          ? Array.from({ length: perSubscriber }, (_, j) =>
            this.channels[(i * 2 + j) % this.channels.length])
          : [`${CHANNEL_PREFIX}.>`],
      )
    );
  }

  /** Subscribers first, confirmed, so they see every event from the first one on. */
  static async start(o: LoadOptions): Promise<Load> {
    // The publisher in event ids is the token's sub, so each publisher's name is its sub and
    // verify.ts finds its events by it.
    const mint = (sub: string, grants: { publish?: string[]; subscribe?: string[] }) =>
      mintToken(o.secret, sub, { ...grants, expiresIn: TOKEN_LIFETIME_S }).then((token) =>
        [sub, token] as const
      );
    const tokens = new Map(
      await Promise.all([
        ...publisherNames(o).map((name) => mint(name, { publish: [`${CHANNEL_PREFIX}.>`] })),
        ...subscriberNames(o).map((name) => mint(name, { subscribe: [">"] })),
      ]),
    );
    const load = new Load(o, tokens);
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

function publisherNames(o: LoadOptions): string[] {
  return Array.from({ length: o.publishers }, (_, i) => `p${i}`);
}

/** The channel subscribers, then the one that subscribes to all channels by pattern. */
function subscriberNames(o: LoadOptions): string[] {
  return [...Array.from({ length: o.channelSubscribers }, (_, i) => `s${i}`), "s-all"];
}

/** `urls` from the i-th on, round: clients spread over the replicas. */
function rotate(urls: string[], i: number): string[] {
  const k = i % urls.length;
  return [...urls.slice(k), ...urls.slice(0, k)];
}

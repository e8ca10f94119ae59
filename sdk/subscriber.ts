import { backoffDelay } from "./backoff.ts";
import { Connection, type Frame } from "./connection.ts";
import { PresenceWatch } from "./presence.ts";
import { Subscription } from "./subscription.ts";
import {
  type ConnectionState,
  JetmeshClientError,
  type JetmeshEvent,
  type SocketOptions,
} from "./types.ts";

export interface SubscriberOptions extends SocketOptions {
  /** Notify's WebSocket URL, e.g. `ws://localhost:8081/v1/ws`. */
  url: string;
}

export interface SubscribeOptions {
  /** Start after this cursor (`"0-0"`: everything stored); default: only events from now on. */
  after?: string;
  onEvent?: (e: JetmeshEvent) => void;
}

interface Join {
  member: string;
  waiters: Array<{ resolve(): void; reject(err: Error): void }>;
}

/**
 * Codes after which the same request may simply be sent again later (`rate_limited`: after its
 * `retryAfterMs`).
 */
const RETRYABLE = new Set(["unavailable", "overloaded", "rate_limited"]);

/**
 * Every request gets exactly one answer, in request order; events, presence
 * changes, a subscription the server ended (`unsubscribed` with a code) and
 * the slow-consumer notice come in between (docs/protocol.md).
 */
function isAnswer(f: Frame): boolean {
  switch (f.op) {
    case "subscribed":
    case "authed":
    case "joined":
    case "left":
    case "presence":
      return true;
    case "unsubscribed":
      return f.code === undefined;
    case "error":
      return f.code !== "slow_consumer";
    default:
      return false;
  }
}

/**
 * Subscriptions and presence on notify. What the application asked for
 * (subscriptions with their cursors, joined channels, watched channels) is
 * kept here and sent again on every reconnect, so a notify crash, a deploy or
 * a slow-consumer disconnect costs a short pause and nothing else.
 */
export class Subscriber {
  readonly #conn: Connection;
  readonly #o: SubscriberOptions;
  readonly #subs = new Map<string, Subscription>();
  readonly #joins = new Map<string, Join>();
  readonly #watches = new Map<string, PresenceWatch>();
  /** Handlers for the answers still due on the current socket, oldest first. */
  #answers: Array<(f: Frame) => void> = [];
  readonly #attempts = new Map<string, number>();

  constructor(o: SubscriberOptions) {
    this.#o = o;
    this.#conn = new Connection(o.url, o, {
      open: () => this.#resync(),
      frame: (f) => this.#onFrame(f),
      lost: () => (this.#answers = []),
      auth: (token) =>
        new Promise((resolve) => {
          if (!this.#request({ op: "auth", token }, resolve)) resolve(undefined);
        }),
      failed: (err) => this.#failAll(err),
    });
  }

  get state(): ConnectionState {
    return this.#conn.state;
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    return this.#conn.onState(listener);
  }

  /**
   * Token problems of the connection (see Connection.onError); a refused subscription fails
   * that subscription.
   */
  onError(listener: (err: JetmeshClientError) => void): () => void {
    return this.#conn.onError(listener);
  }

  /**
   * Subscribes to a channel or pattern (`chat.*`, `iot.>`); one subscription per channel or
   * pattern.
   */
  subscribe(channel: string, opts: SubscribeOptions = {}): Subscription {
    if (this.#subs.has(channel)) {
      throw new Error(`already subscribed to ${channel}; close that subscription first`);
    }
    const sub = new Subscription(channel, opts.after, () => this.#unsubscribe(sub));
    if (opts.onEvent) sub.onEvent(opts.onEvent);
    if (this.#conn.state === "closed") {
      sub.fail(this.#conn.closedBy);
      return sub;
    }
    this.#subs.set(channel, sub);
    this.#sendSub(sub);
    return sub;
  }

  /**
   * Enters a channel's presence as `member`; resolves once notify recorded it. Kept across
   * reconnects.
   */
  join(channel: string, member: string): Promise<void> {
    if (this.#conn.state === "closed") return Promise.reject(this.#conn.closedBy);
    const join: Join = { member, waiters: this.#joins.get(channel)?.waiters ?? [] };
    this.#joins.set(channel, join);
    return new Promise((resolve, reject) => {
      join.waiters.push({ resolve, reject });
      this.#sendJoin(channel, join);
    });
  }

  leave(channel: string): Promise<void> {
    const join = this.#joins.get(channel);
    if (!join) return Promise.resolve();
    this.#joins.delete(channel);
    for (const w of join.waiters) w.resolve();
    return new Promise((resolve) => {
      if (!this.#request({ op: "leave", channel }, () => resolve())) resolve();
    });
  }

  /** Who is in a channel, kept current until the watch is closed. */
  presence(channel: string): PresenceWatch {
    const existing = this.#watches.get(channel);
    if (existing) return existing;
    const watch = new PresenceWatch(channel, () => {
      if (this.#watches.get(channel) !== watch) return;
      this.#watches.delete(channel);
      this.#request({ op: "presence", channel, watch: false }, () => {});
    });
    if (this.#conn.state === "closed") {
      watch.fail(this.#conn.closedBy);
      return watch;
    }
    this.#watches.set(channel, watch);
    this.#sendWatch(watch);
    return watch;
  }

  /**
   * Closes the connection for good: iterators end, pending joins are rejected with code
   * `closed`.
   */
  close(): void {
    this.#conn.close();
    const subs = [...this.#subs.values()];
    this.#subs.clear();
    for (const sub of subs) sub.close();
    this.#rejectJoins(new JetmeshClientError("closed", "the subscriber was closed"));
    this.#watches.clear();
  }

  /**
   * The connection gave up for good (its token cannot be renewed): everything waiting learns
   * why.
   */
  #failAll(err: JetmeshClientError): void {
    const subs = [...this.#subs.values()];
    this.#subs.clear();
    for (const sub of subs) sub.fail(err);
    this.#rejectJoins(err);
    const watches = [...this.#watches.values()];
    this.#watches.clear();
    for (const watch of watches) watch.fail(err);
  }

  #rejectJoins(err: JetmeshClientError): void {
    for (const join of this.#joins.values()) for (const w of join.waiters) w.reject(err);
    this.#joins.clear();
  }

  /**
   * Sends a request and remembers who handles its answer; false when not connected (it goes
   * out on the next open).
   */
  #request(frame: object, onAnswer: (f: Frame) => void): boolean {
    if (!this.#conn.send(frame)) return false;
    this.#answers.push(onAnswer);
    return true;
  }

  #resync(): void {
    for (const sub of this.#subs.values()) this.#sendSub(sub);
    for (const [channel, join] of this.#joins) this.#sendJoin(channel, join);
    for (const watch of this.#watches.values()) this.#sendWatch(watch);
  }

  #sendSub(sub: Subscription): void {
    const frame = sub.cursor === undefined
      ? { op: "sub", channel: sub.channel }
      : { op: "sub", channel: sub.channel, after: sub.cursor };
    this.#request(frame, (f) => {
      if (this.#subs.get(sub.channel) !== sub) return;
      if (f.op === "subscribed") {
        this.#attempts.delete(`sub ${sub.channel}`);
        sub.started(f.cursor as string);
      } else {
        this.#subscriptionEnded(sub, f);
      }
    });
  }

  /** A refusal or a server-side end: retried from the cursor when it can pass, otherwise final. */
  #subscriptionEnded(sub: Subscription, f: Frame): void {
    if (RETRYABLE.has(f.code as string)) {
      return this.#later(`sub ${sub.channel}`, f, () => {
        if (this.#subs.get(sub.channel) === sub) this.#sendSub(sub);
      });
    }
    this.#subs.delete(sub.channel);
    sub.fail(new JetmeshClientError(String(f.code), String(f.message)));
  }

  #sendJoin(channel: string, join: Join): void {
    this.#request({ op: "join", channel, member: join.member }, (f) => {
      if (this.#joins.get(channel) !== join) return;
      if (f.op === "joined") {
        this.#attempts.delete(`join ${channel}`);
        for (const w of join.waiters.splice(0)) w.resolve();
      } else if (RETRYABLE.has(f.code as string)) {
        this.#later(`join ${channel}`, f, () => {
          if (this.#joins.get(channel) === join) this.#sendJoin(channel, join);
        });
      } else {
        this.#joins.delete(channel);
        for (const w of join.waiters.splice(0)) {
          w.reject(new JetmeshClientError(String(f.code), String(f.message)));
        }
      }
    });
  }

  #sendWatch(watch: PresenceWatch): void {
    this.#request({ op: "presence", channel: watch.channel, watch: true }, (f) => {
      if (this.#watches.get(watch.channel) !== watch) return;
      if (f.op === "presence") {
        this.#attempts.delete(`watch ${watch.channel}`);
        watch.reset(f.members as string[]);
      } else if (RETRYABLE.has(f.code as string)) {
        this.#later(`watch ${watch.channel}`, f, () => {
          if (this.#watches.get(watch.channel) === watch) this.#sendWatch(watch);
        });
      } else {
        this.#watches.delete(watch.channel);
        watch.fail(new JetmeshClientError(String(f.code), String(f.message)));
      }
    });
  }

  #unsubscribe(sub: Subscription): void {
    if (this.#subs.get(sub.channel) !== sub) return;
    this.#subs.delete(sub.channel);
    this.#request({ op: "unsub", channel: sub.channel }, () => {});
  }

  /** Sends again after the refusal's `retryAfterMs`, or a growing backoff. */
  #later(key: string, refusal: Frame, fn: () => void): void {
    if (typeof refusal.retryAfterMs === "number") return void setTimeout(fn, refusal.retryAfterMs);
    const attempt = this.#attempts.get(key) ?? 0;
    this.#attempts.set(key, attempt + 1);
    setTimeout(fn, backoffDelay(attempt, this.#o.backoff));
  }

  #onFrame(f: Frame): void {
    if (isAnswer(f)) return this.#answers.shift()?.(f);
    switch (f.op) {
      case "event": {
        // A pattern subscription names itself in `sub`; a channel subscription is its channel.
        const sub = this.#subs.get((f.sub ?? f.channel) as string);
        sub?.deliver({
          channel: f.channel as string,
          cursor: f.cursor as string,
          id: f.id as string,
          ts: f.ts as number,
          data: f.data,
        });
        return;
      }
      case "member_joined":
      case "member_left":
        this.#watches.get(f.channel as string)?.apply({
          type: f.op === "member_joined" ? "join" : "leave",
          member: f.member as string,
        });
        return;
      case "unsubscribed": {
        const sub = this.#subs.get(f.channel as string);
        if (sub) this.#subscriptionEnded(sub, f);
        return;
      }
    }
  }
}

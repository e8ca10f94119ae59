import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { formatCursor, parseCursor } from "../../subjects/mod.ts";
import { isRetryable } from "../bus/mod.ts";
import type { Encoding } from "../codec/mod.ts";
import type { Guard } from "../edge/mod.ts";
import { errorCode, errorMessage, JetmeshError, retryAfterMs } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { ResolvedNamespace } from "../namespaces/mod.ts";
import {
  errorFrame,
  idOf,
  parseSubscriberFrame,
  readFrame,
  type SubFrame,
  type SubscriberFrame,
} from "../protocol/mod.ts";
import type { Store } from "../store/mod.ts";
import type { Tracing } from "../telemetry/mod.ts";
import type { WsConnection, WsHandlers } from "../wsserver/mod.ts";
import type { NotifyConfig } from "./config.ts";
import type { Hub } from "./hub.ts";
import type { NotifyMetrics } from "./metrics.ts";
import { Outbox } from "./outbox.ts";
import { Pace } from "./pace.ts";
import type { Presence } from "./presence.ts";
import { type MemberState, presenceFrames } from "./presence-frames.ts";
import { sessions, type SessionState } from "./session.ts";
import { firstSequence, resolveStart } from "./cursor-resume.ts";
import { Subscription, type SubscriptionEnd } from "./subscription.ts";
import type { SubscriptionDeps } from "./subscription-deps.ts";
import { Subscriptions } from "./connection-subscriptions.ts";

/**
 * Frames of one connection waiting to be handled, beyond which new ones are
 * answered `overloaded` at once: a client that sends faster than it reads
 * answers cannot make notify queue its frames (up to 64 KiB each) without bound.
 */
const MAX_PENDING_FRAMES = 64;

export interface SubscriberConnection extends MemberState, SessionState {
  subs: Subscriptions<Subscription<Conn>>;
  /** Set on open; everything sent to the client goes through it. */
  outbox: Outbox | undefined;
  /**
   * Frames of one connection are handled one after another, so answers come in request order;
   * unset when none is pending.
   */
  chain: Promise<void> | undefined;
  /** Frames in `chain` not handled yet (the one being handled included). */
  pending: number;
}

const WS_PATH = "/v1/ws";

type Conn = WsConnection<SubscriberConnection>;

export interface SubscriberDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  hub: Hub;
  store: Store;
  presence: Presence;
  /**
   * Every running subscription of this process, so their catch-up consumers can be replaced
   * together after NATS reconnects.
   */
  live: Set<Subscription<Conn>>;
  guard: Guard;
  log: Logger;
  metrics: NotifyMetrics;
  /** Set when tracing is on. */
  tracing?: Tracing;
}

export function subscriberSocket(
  cfg: NotifyConfig,
  deps: SubscriberDeps,
): WsHandlers<SubscriberConnection> {
  const { jsm, guard, log, metrics } = deps;
  const subDeps: SubscriptionDeps = {
    js: deps.js,
    hub: deps.hub,
    store: deps.store,
    firstSeq: () => firstSequence(jsm),
    log,
    metrics,
    tracing: deps.tracing,
  };
  const presence = presenceFrames(deps.presence, cfg.maxSubscriptionsPerConnection, log);
  const session = sessions(guard);
  // An `auth` frame names no channel: it is counted against the default limits.
  const noNamespace: ResolvedNamespace = {
    name: "(default)",
    limits: guard.policy.config.defaults,
  };
  let connections = 0;
  const limits = {
    pauseBytes: cfg.maxBufferedBytes,
    closeBytes: cfg.disconnectBufferedBytes,
    maxPauseMs: cfg.maxPauseMs,
  };

  // One function for every subscription's end, not a closure per subscription: idle
  // connections should cost little.
  const ended: SubscriptionEnd<Conn> = (sub, err) => {
    const conn = sub.owner;
    deps.live.delete(sub);
    // Replaced, unsubscribed or closed meanwhile: nobody waits for this one any more.
    if (!err || conn.data.subs.get(sub.pattern) !== sub) return;
    // The subscription is over; the client resubscribes from the last cursor it received.
    conn.data.subs.delete(sub.pattern);
    metrics.subscriptions.dec();
    const code = isRetryable(err) ? "unavailable" : errorCode(err);
    if (code !== "limit_exceeded") log.warn("subscription ended", { err, channel: sub.pattern });
    // Over a namespace's replay limit the same cursor would fail again.
    const advice = code === "limit_exceeded" ? "" : "; resubscribe from your last cursor";
    const message = `subscription ended: ${
      code === "internal" ? "internal error" : errorMessage(err)
    }${advice}`;
    conn.data.outbox?.send(
      { op: "unsubscribed", channel: sub.pattern, code, message },
      sub.encoding,
    );
  };

  function unsubscribe(conn: Conn, channel: string): boolean {
    conn.data.subs.get(channel)?.stop();
    if (!conn.data.subs.delete(channel)) return false;
    metrics.subscriptions.dec();
    return true;
  }

  async function subscribe(
    conn: Conn,
    outbox: Outbox,
    f: SubFrame,
    enc: Encoding,
    ns: ResolvedNamespace,
  ): Promise<void> {
    const existing = conn.data.subs.get(f.channel);
    if (!existing && conn.data.subs.size >= cfg.maxSubscriptionsPerConnection) {
      throw new JetmeshError(
        "limit_exceeded",
        `at most ${cfg.maxSubscriptionsPerConnection} subscriptions per connection`,
      );
    }
    const start = await resolveStart(
      jsm,
      deps.hub,
      f.after === undefined ? undefined : parseCursor(f.after),
    );
    if (conn.isClosed()) return;
    const pace = start.resumed ? new Pace(ns.limits.replay, ns.name) : undefined;
    const sub = new Subscription({
      deps: subDeps,
      pattern: f.channel,
      start,
      sink: outbox,
      encoding: enc,
      owner: conn,
      pace,
    });
    await sub.open();
    // A re-subscribe replaces the old one: the client is moving its cursor.
    existing?.stop();
    if (conn.isClosed()) return sub.stop();
    conn.data.subs.set(f.channel, sub);
    if (!existing) metrics.subscriptions.inc();
    outbox.send({ op: "subscribed", channel: f.channel, cursor: formatCursor(start.after) }, enc);
    deps.live.add(sub);
    sub.run(ended);
  }

  /** After a token refresh: subscriptions the new token no longer allows end with `forbidden`. */
  function recheck(conn: Conn, enc: Encoding): void {
    for (const { pattern } of [...conn.data.subs.values()]) {
      if (guard.policy.may(conn.data.caller, "subscribe", pattern) || !unsubscribe(conn, pattern)) {
        continue;
      }
      const message = `your new token does not allow you to subscribe to ${pattern}`;
      conn.data.outbox?.send(
        { op: "unsubscribed", channel: pattern, code: "forbidden", message },
        enc,
      );
    }
  }

  /**
   * Every frame costs one command of its channel's namespace; reads also need the caller's
   * permission.
   */
  function admit(conn: Conn, f: SubscriberFrame): ResolvedNamespace {
    const { caller, address } = conn.data;
    const ns = f.op === "auth" ? noNamespace : guard.policy.resolve(f.channel);
    guard.limit(caller, address, "command", ns);
    if (f.op === "sub") guard.authorize(caller, "subscribe", f.channel);
    // Joining shows the caller to everyone who may see the channel's presence: it takes the
    // same permission.
    if (f.op === "join" || f.op === "presence") guard.authorize(caller, "presence", f.channel);
    if (f.op === "join" && guard.authOn && f.member !== caller.sub) {
      if (caller.sub === undefined) {
        throw new JetmeshError(
          "unauthorized",
          "joining presence takes a token: the member is its sub",
        );
      }
      throw new JetmeshError("forbidden", `you can join only as yourself, ${caller.sub}`);
    }
    return ns;
  }

  async function handle(
    conn: Conn,
    payload: Uint8Array | string,
    isBinary: boolean,
  ): Promise<void> {
    const enc: Encoding = isBinary ? "msgpack" : "json";
    const outbox = conn.data.outbox!;
    let value: unknown;
    try {
      value = readFrame(payload, isBinary, cfg.maxFrameBytes).value;
      const f = parseSubscriberFrame(value);
      const ns = admit(conn, f);
      switch (f.op) {
        case "sub":
          return await subscribe(conn, outbox, f, enc, ns);
        case "unsub":
          unsubscribe(conn, f.channel);
          outbox.send({ op: "unsubscribed", channel: f.channel }, enc);
          return;
        case "auth":
          outbox.send(await session.refresh(conn, f.token), enc);
          return recheck(conn, enc);
        default:
          return await presence.handle(conn, outbox, f, enc);
      }
    } catch (err) {
      const code = isRetryable(err) ? "unavailable" : errorCode(err);
      if (code === "internal") log.error("subscriber frame failed", { err });
      outbox.send(
        errorFrame(
          code,
          code === "internal" ? "internal error" : errorMessage(err),
          idOf(value),
          retryAfterMs(err),
        ),
        enc,
      );
    }
  }

  // Every field from the start: fields added later would cost a property array per connection.
  const connection = (
    { caller, address }: Pick<SessionState, "caller" | "address">,
  ): SubscriberConnection => ({
    caller,
    address,
    counted: false,
    expiry: undefined,
    subs: new Subscriptions(),
    outbox: undefined,
    chain: undefined,
    pending: 0,
    presence: undefined,
  });

  return {
    path: WS_PATH,
    upgrade(req) {
      if (connections >= cfg.maxConnections) {
        throw new JetmeshError(
          "unavailable",
          `notify is at its limit of ${cfg.maxConnections} connections; retry later or use another instance`,
        );
      }
      const admitted = session.admit(req);
      return admitted instanceof Promise ? admitted.then(connection) : connection(admitted);
    },
    open(conn) {
      connections++;
      metrics.connections.inc();
      conn.data.outbox = new Outbox(conn, limits);
      session.opened(conn);
    },
    message(conn, payload, isBinary) {
      const d = conn.data;
      if (d.pending >= MAX_PENDING_FRAMES) {
        const message =
          `more than ${MAX_PENDING_FRAMES} frames are waiting to be handled; wait for answers before sending more`;
        d.outbox!.send(errorFrame("overloaded", message), isBinary ? "msgpack" : "json");
        return;
      }
      d.pending++;
      // Frames still queued when the connection closes are skipped: no work for a client that left.
      const chain = (d.chain ?? Promise.resolve()).then(() =>
        conn.isClosed() ? undefined : handle(conn, payload, isBinary)
      );
      d.chain = chain;
      void chain.then(() => {
        d.pending--;
        // Nothing queued behind it: forget the chain rather than keep a settled promise
        // per idle connection.
        if (d.chain === chain) d.chain = undefined;
      });
    },
    drain(conn) {
      conn.data.outbox?.drained();
    },
    close(conn) {
      connections--;
      metrics.connections.dec();
      session.closed(conn);
      for (const sub of conn.data.subs.values()) sub.stop();
      metrics.subscriptions.dec(conn.data.subs.size);
      conn.data.subs.clear();
      conn.data.outbox?.drained();
      presence.closed(conn);
    },
  };
}

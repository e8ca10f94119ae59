import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { formatCursor, parseCursor } from "../../subjects/mod.ts";
import { isRetryable } from "../bus/mod.ts";
import type { Encoding } from "../codec/mod.ts";
import { errorCode, errorMessage, JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { errorFrame, idOf, parseSubscriberFrame, readFrame, type SubFrame } from "../protocol/mod.ts";
import type { Store } from "../store/mod.ts";
import type { Tracing } from "../telemetry/mod.ts";
import type { WsConnection, WsHandlers } from "../wsserver/mod.ts";
import type { NotifyConfig } from "./config.ts";
import type { Hub } from "./hub.ts";
import type { NotifyMetrics } from "./metrics.ts";
import { Outbox } from "./outbox.ts";
import type { Presence } from "./presence.ts";
import { type MemberState, presenceFrames } from "./presence-frames.ts";
import { firstSequence, resolveStart } from "./start.ts";
import { Subscription, type SubscriptionDeps, type SubscriptionEnd } from "./subscription.ts";
import { Subscriptions } from "./subscriptions.ts";

export interface SubscriberConnection extends MemberState {
  subs: Subscriptions;
  /** Set on open; everything sent to the client goes through it. */
  outbox: Outbox | undefined;
  /** Frames of one connection are handled one after another, so answers come in request order; unset when none is pending. */
  chain: Promise<void> | undefined;
}

export const WS_PATH = "/v1/ws";

type Conn = WsConnection<SubscriberConnection>;

export interface SubscriberDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  hub: Hub;
  store: Store;
  presence: Presence;
  /** Every running subscription of this process, so their catch-up consumers can be replaced together after NATS reconnects. */
  live: Set<Subscription>;
  log: Logger;
  metrics: NotifyMetrics;
  /** Set when tracing is on. */
  tracing?: Tracing;
}

export function subscriberSocket(cfg: NotifyConfig, deps: SubscriberDeps): WsHandlers<SubscriberConnection> {
  const { jsm, log, metrics } = deps;
  const subDeps: SubscriptionDeps = { js: deps.js, hub: deps.hub, store: deps.store, firstSeq: () => firstSequence(jsm), log, metrics, tracing: deps.tracing };
  const presence = presenceFrames(deps.presence, cfg.maxSubscriptionsPerConnection, log);
  let connections = 0;
  const limits = { pauseBytes: cfg.maxBufferedBytes, closeBytes: cfg.disconnectBufferedBytes, maxPauseMs: cfg.maxPauseMs };

  // One function for every subscription's end, not a closure per subscription: idle connections should cost little.
  const ended: SubscriptionEnd = (sub, err) => {
    // Every subscription made here is owned by its connection.
    const conn = sub.owner as Conn;
    deps.live.delete(sub);
    // Replaced, unsubscribed or closed meanwhile: nobody waits for this one any more.
    if (!err || conn.data.subs.get(sub.pattern) !== sub) return;
    // The subscription is over; the client resubscribes from the last cursor it received.
    conn.data.subs.delete(sub.pattern);
    metrics.subscriptions.dec();
    const code = isRetryable(err) ? "unavailable" : errorCode(err);
    log.warn("subscription ended", { err, channel: sub.pattern });
    const message = `subscription ended: ${code === "internal" ? "internal error" : errorMessage(err)}; resubscribe from your last cursor`;
    conn.data.outbox?.send({ op: "unsubscribed", channel: sub.pattern, code, message }, sub.encoding);
  };

  async function subscribe(conn: Conn, outbox: Outbox, f: SubFrame, enc: Encoding): Promise<void> {
    const existing = conn.data.subs.get(f.channel);
    if (!existing && conn.data.subs.size >= cfg.maxSubscriptionsPerConnection) {
      throw new JetmeshError("limit_exceeded", `at most ${cfg.maxSubscriptionsPerConnection} subscriptions per connection`);
    }
    const start = await resolveStart(jsm, deps.hub, f.after === undefined ? undefined : parseCursor(f.after));
    const sub = new Subscription(subDeps, f.channel, start, outbox, enc, conn);
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

  async function handle(conn: Conn, payload: Uint8Array | string, isBinary: boolean): Promise<void> {
    const enc: Encoding = isBinary ? "msgpack" : "json";
    const outbox = conn.data.outbox!;
    let value: unknown;
    try {
      value = readFrame(payload, isBinary, cfg.maxFrameBytes).value;
      const f = parseSubscriberFrame(value);
      switch (f.op) {
        case "sub":
          return await subscribe(conn, outbox, f, enc);
        case "unsub":
          conn.data.subs.get(f.channel)?.stop();
          if (conn.data.subs.delete(f.channel)) metrics.subscriptions.dec();
          outbox.send({ op: "unsubscribed", channel: f.channel }, enc);
          return;
        case "auth":
          // Tokens arrive with the security work on this service; until then a connection has none to refresh.
          throw new JetmeshError("bad_frame", "this service does not take tokens");
        default:
          return await presence.handle(conn, outbox, f, enc);
      }
    } catch (err) {
      const code = isRetryable(err) ? "unavailable" : errorCode(err);
      if (code === "internal") log.error("subscriber frame failed", { err });
      outbox.send(errorFrame(code, code === "internal" ? "internal error" : errorMessage(err), idOf(value)), enc);
    }
  }

  return {
    path: WS_PATH,
    upgrade: () => {
      if (connections >= cfg.maxConnections) {
        throw new JetmeshError("unavailable", `notify is at its limit of ${cfg.maxConnections} connections; retry later or use another instance`);
      }
      // Every field from the start: fields added later would cost a property array per connection.
      return { subs: new Subscriptions(), outbox: undefined, chain: undefined, presence: undefined };
    },
    open(conn) {
      connections++;
      metrics.connections.inc();
      conn.data.outbox = new Outbox(conn, limits);
    },
    message(conn, payload, isBinary) {
      const chain = (conn.data.chain ?? Promise.resolve()).then(() => handle(conn, payload, isBinary));
      conn.data.chain = chain;
      // Nothing queued behind it: forget the chain rather than keep a settled promise per idle connection.
      void chain.then(() => {
        if (conn.data.chain === chain) conn.data.chain = undefined;
      });
    },
    drain(conn) {
      conn.data.outbox?.drained();
    },
    close(conn) {
      connections--;
      metrics.connections.dec();
      for (const sub of conn.data.subs.values()) sub.stop();
      metrics.subscriptions.dec(conn.data.subs.size);
      conn.data.subs.clear();
      conn.data.outbox?.drained();
      presence.closed(conn);
    },
  };
}

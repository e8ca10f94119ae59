import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { formatCursor, parseCursor } from "../../subjects/mod.ts";
import { isRetryable } from "../bus/mod.ts";
import { encodeFrame, type Encoding } from "../codec/mod.ts";
import { errorCode, errorMessage, JetmeshError } from "../errors/mod.ts";
import { errorFrame, idOf, parseSubscriberFrame, readFrame, type ServerFrame, type SubFrame } from "../protocol/mod.ts";
import type { WsConnection, WsHandlers } from "../wsserver/mod.ts";
import type { NotifyConfig } from "./config.ts";
import { resolveStart } from "./start.ts";
import { type EventSink, Subscription, type SubscriptionObservers } from "./subscription.ts";

export interface SubscriberConnection {
  subs: Map<string, Subscription>;
  /** Frames of one connection are handled one after another, so answers come in request order. */
  chain: Promise<void>;
  /** Subscriptions waiting for the send buffer to drain. */
  waiting: Array<() => void>;
}

export const WS_PATH = "/v1/ws";

type Conn = WsConnection<SubscriberConnection>;

function wake(conn: Conn): void {
  const waiting = conn.data.waiting.splice(0);
  for (const w of waiting) w();
}

export function subscriberSocket(
  cfg: NotifyConfig,
  js: JetStreamClient,
  jsm: JetStreamManager,
  obs: SubscriptionObservers,
): WsHandlers<SubscriberConnection> {
  const { log, metrics } = obs;
  const reply = (conn: Conn, frame: ServerFrame, enc: Encoding) => conn.send(encodeFrame(frame, enc));

  const sinkFor = (conn: Conn, enc: Encoding): EventSink => ({
    send: (frame) => reply(conn, frame, enc),
    writable: () =>
      conn.isClosed() || conn.bufferedAmount() < cfg.maxBufferedBytes
        ? Promise.resolve()
        : new Promise((resolve) => conn.data.waiting.push(resolve)),
  });

  async function subscribe(conn: Conn, f: SubFrame, enc: Encoding): Promise<void> {
    const existing = conn.data.subs.get(f.channel);
    if (!existing && conn.data.subs.size >= cfg.maxSubscriptionsPerConnection) {
      throw new JetmeshError("limit_exceeded", `at most ${cfg.maxSubscriptionsPerConnection} subscriptions per connection`);
    }
    const start = await resolveStart(jsm, f.after === undefined ? undefined : parseCursor(f.after));
    const sub = new Subscription(js, f.channel, start, sinkFor(conn, enc), obs);
    await sub.open();
    // A re-subscribe replaces the old one: the client is moving its cursor.
    existing?.stop();
    if (conn.isClosed()) return sub.stop();
    conn.data.subs.set(f.channel, sub);
    if (!existing) metrics.subscriptions.inc();
    reply(conn, { op: "subscribed", channel: f.channel, cursor: formatCursor(start.after) }, enc);
    sub.run().catch((err) => log.warn("subscription ended", { err, channel: f.channel }));
  }

  async function handle(conn: Conn, payload: Uint8Array | string, isBinary: boolean): Promise<void> {
    const enc: Encoding = isBinary ? "msgpack" : "json";
    let value: unknown;
    try {
      value = readFrame(payload, isBinary, cfg.maxFrameBytes).value;
      const f = parseSubscriberFrame(value);
      if (f.op === "sub") return await subscribe(conn, f, enc);
      conn.data.subs.get(f.channel)?.stop();
      if (conn.data.subs.delete(f.channel)) metrics.subscriptions.dec();
      reply(conn, { op: "unsubscribed", channel: f.channel }, enc);
    } catch (err) {
      const code = isRetryable(err) ? "unavailable" : errorCode(err);
      if (code === "internal") log.error("subscriber frame failed", { err });
      reply(conn, errorFrame(code, code === "internal" ? "internal error" : errorMessage(err), idOf(value)), enc);
    }
  }

  return {
    path: WS_PATH,
    upgrade: () => ({ subs: new Map(), chain: Promise.resolve(), waiting: [] }),
    open() {
      metrics.connections.inc();
    },
    message(conn, payload, isBinary) {
      conn.data.chain = conn.data.chain.then(() => handle(conn, payload, isBinary));
    },
    drain(conn) {
      if (conn.bufferedAmount() < cfg.maxBufferedBytes) wake(conn);
    },
    close(conn) {
      metrics.connections.dec();
      for (const sub of conn.data.subs.values()) sub.stop();
      metrics.subscriptions.dec(conn.data.subs.size);
      conn.data.subs.clear();
      wake(conn);
    },
  };
}

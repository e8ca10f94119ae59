import { type Caller, isAuthenticated, publisherOf } from "../auth/mod.ts";
import { encodeFrame, type Encoding } from "../codec/mod.ts";
import {
  CLOSE_TOKEN_EXPIRED,
  type Expiry,
  type Guard,
  TOKEN_EXPIRED_REASON,
  watchExpiry,
} from "../edge/mod.ts";
import { errorCode, errorMessage, retryAfterMs } from "../errors/mod.ts";
import type { Inflight } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  type AuthFrame,
  errorFrame,
  idOf,
  parsePublisherFrame,
  readFrame,
} from "../protocol/mod.ts";
import type { WsConnection, WsHandlers } from "../wsserver/mod.ts";
import { CLOSE_RATE_LIMIT_IGNORED, RateAbuse, type Refusals } from "./abuse.ts";
import { answerer, type Answering } from "./answers.ts";
import { publishingCaller } from "./caller.ts";
import type { IngestConfig } from "./config.ts";
import { admit, type PublishDeps, publishEvent } from "./publish.ts";

/**
 * Close code for a client that lets more than INGEST_MAX_BUFFERED_BYTES of answers pile up
 * unread (4000–4999 are for applications).
 */
const CLOSE_SLOW_CONSUMER = 4008;
/**
 * Close code ("try again later") for a connection that passed the connection limits on upgrade
 * but not on open (concurrent upgrades).
 */
const CLOSE_TOO_MANY_CONNECTIONS = 1013;

export interface PublisherConnection extends Answering {
  caller: Caller;
  address: string;
  inflight: number;
  /**
   * Set once counted in the guard's connection limits, with the identity it was
   * counted as (an anonymous caller may become one with an auth frame): released on close.
   */
  counted?: { sub: string | undefined };
  /**
   * Closed as a slow consumer or for ignoring its rate limit: its further frames are dropped
   * unread.
   */
  closing: boolean;
  refusals: Refusals;
  expiry?: Expiry;
}

type Conn = WsConnection<PublisherConnection>;

/**
 * Whom a cooldown for ignoring the rate limit holds back: the identity, else the address (as the
 * rate limits count them).
 */
function abuserOf(caller: Caller, address: string): string {
  return caller.sub === undefined ? `addr:${address}` : `sub:${caller.sub}`;
}

const WS_PATH = "/v1/ws";

/**
 * The producer WebSocket: each `pub` frame is answered with an `ack` once
 * JetStream has it, or an `error`; an `auth` frame renews the connection's
 * token. Frames are independent; a refused one is answered and the connection
 * stays open. A client that does not read its answers is closed (4008) before
 * they cost ingest more than INGEST_MAX_BUFFERED_BYTES.
 */
export function publisherSocket(
  cfg: IngestConfig,
  pub: PublishDeps,
  inflight: Inflight,
  log: Logger,
): WsHandlers<PublisherConnection> {
  const guard: Guard = pub.guard;
  // Auth frames are not about a channel: they count against the default namespace's command rate.
  const commands = { name: "(default)", limits: guard.policy.config.defaults };

  const abuse = new RateAbuse();
  const answers = answerer<PublisherConnection>((conn, enc) => {
    if (conn.bufferedAmount() > cfg.maxBufferedBytes && !conn.data.closing) closeSlow(conn, enc);
  });
  const reply = answers.reply;
  // A frame sent or a close made directly goes after the answers already waiting: the client
  // learns what led to the close.
  const close = (conn: Conn, code: number, reason: string) => {
    answers.flush(conn);
    conn.close(code, reason);
  };
  const closeSlow = (conn: Conn, enc: Encoding) => {
    conn.data.closing = true;
    const message =
      `slow consumer: more than ${cfg.maxBufferedBytes} bytes of answers were waiting to be read; reconnect and resend unacked publishes with the same ids`;
    answers.flush(conn);
    conn.send(encodeFrame(errorFrame("slow_consumer", message), enc));
    conn.close(CLOSE_SLOW_CONSUMER, "slow consumer");
  };
  const refuse = (conn: Conn, err: unknown, enc: Encoding, id?: string) => {
    reply(conn, errorFrame(errorCode(err), errorMessage(err), id, retryAfterMs(err)), enc);
  };
  const armExpiry = (conn: Conn) => {
    conn.data.expiry?.cancel();
    conn.data.expiry = watchExpiry(
      conn.data.caller,
      () => close(conn, CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED_REASON),
    );
  };
  const renew = (conn: Conn, frame: AuthFrame, enc: Encoding) => {
    guard.limit(conn.data.caller, conn.data.address, "command", commands);
    guard.refresh(conn.data.caller, frame.token).then(
      (caller) => {
        if (conn.isClosed()) return;
        conn.data.caller = caller;
        armExpiry(conn);
        reply(conn, {
          op: "authed",
          sub: publisherOf(caller),
          expiresAt: isAuthenticated(caller) ? caller.expiresAt : 0,
        }, enc);
      },
      (err) => refuse(conn, err, enc),
    );
  };

  return {
    path: WS_PATH,
    async upgrade(req) {
      guard.checkOrigin(req);
      const caller = await publishingCaller(guard, req, "websocket");
      const address = guard.clientAddress(req);
      guard.connections.check(address, caller.sub);
      abuse.check(abuserOf(caller, address));
      return { caller, address, inflight: 0, closing: false, refusals: { since: 0, count: 0 } };
    },
    open(conn) {
      pub.metrics.connections.inc();
      const { address, caller } = conn.data;
      if (!guard.connections.open(address, caller.sub)) {
        return close(conn, CLOSE_TOO_MANY_CONNECTIONS, "too many connections");
      }
      conn.data.counted = { sub: caller.sub };
      armExpiry(conn);
    },
    message(conn, payload, isBinary) {
      if (conn.data.closing) return;
      const enc: Encoding = isBinary ? "msgpack" : "json";
      if (conn.bufferedAmount() > cfg.maxBufferedBytes) return closeSlow(conn, enc);
      let value: unknown;
      try {
        value = readFrame(payload, isBinary, cfg.maxFrameBytes).value;
        const frame = parsePublisherFrame(value);
        if (frame.op === "auth") return renew(conn, frame, enc);
        if (conn.data.inflight >= cfg.maxInflightPerConnection) {
          reply(
            conn,
            errorFrame(
              "overloaded",
              "too many publishes awaiting acks on this connection; retry after an ack",
              frame.id,
            ),
            enc,
          );
          return;
        }
        const request = { caller: conn.data.caller, address: conn.data.address, frame };
        const maxDataBytes = admit(pub, request);
        conn.data.inflight++;
        inflight.track(
          publishEvent(pub, request, maxDataBytes)
            .then((ack) => reply(conn, ack, enc))
            .catch((err) => {
              if (errorCode(err) === "internal") {
                log.error("publish failed", { err, channel: frame.channel });
              }
              refuse(conn, err, enc, frame.id);
            })
            .finally(() => conn.data.inflight--),
        );
      } catch (err) {
        if (
          errorCode(err) === "rate_limited" &&
          abuse.refused(conn.data.refusals, abuserOf(conn.data.caller, conn.data.address))
        ) {
          conn.data.closing = true;
          return close(conn, CLOSE_RATE_LIMIT_IGNORED, "rate limit ignored");
        }
        refuse(conn, err, enc, idOf(value));
      }
    },
    close(conn) {
      pub.metrics.connections.dec();
      conn.data.expiry?.cancel();
      if (conn.data.counted) guard.connections.close(conn.data.address, conn.data.counted.sub);
    },
  };
}

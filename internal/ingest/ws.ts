import { encodeFrame, type Encoding } from "../codec/mod.ts";
import { errorCode, errorMessage } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { errorFrame, idOf, parsePub, readFrame, type ServerFrame } from "../protocol/mod.ts";
import type { WsConnection, WsHandlers } from "../wsserver/mod.ts";
import { authenticate, credentialsOf } from "./auth.ts";
import type { IngestConfig } from "./config.ts";
import { publishEvent, type PublisherOptions } from "./publisher.ts";
import type { Inflight } from "../lifecycle/mod.ts";

export interface PublisherConnection {
  publisher: string;
  inflight: number;
}

export const WS_PATH = "/v1/ws";

/**
 * The producer WebSocket: each `pub` frame is answered with an `ack` once
 * JetStream has it, or an `error`. Frames are independent; a bad one is
 * answered and the connection stays open.
 */
export function publisherSocket(
  cfg: IngestConfig,
  pub: PublisherOptions,
  inflight: Inflight,
  log: Logger,
): WsHandlers<PublisherConnection> {
  const reply = (conn: WsConnection<PublisherConnection>, frame: ServerFrame, enc: Encoding) => {
    conn.send(encodeFrame(frame, enc));
  };
  return {
    path: WS_PATH,
    upgrade: (req) => ({
      publisher: authenticate(cfg.tokens, credentialsOf(req)),
      inflight: 0,
    }),
    open() {
      pub.metrics.connections.inc();
    },
    message(conn, payload, isBinary) {
      const enc: Encoding = isBinary ? "msgpack" : "json";
      let value: unknown;
      try {
        value = readFrame(payload, isBinary, cfg.maxFrameBytes).value;
        const frame = parsePub(value);
        if (conn.data.inflight >= cfg.maxInflightPerConnection) {
          reply(conn, errorFrame("overloaded", "too many publishes awaiting acks on this connection; retry after an ack", frame.id), enc);
          return;
        }
        conn.data.inflight++;
        inflight.track(
          publishEvent(pub, conn.data.publisher, frame)
            .then((ack) => reply(conn, ack, enc))
            .catch((err) => {
              if (errorCode(err) === "internal") log.error("publish failed", { err, channel: frame.channel });
              reply(conn, errorFrame(errorCode(err), errorMessage(err), frame.id), enc);
            })
            .finally(() => conn.data.inflight--),
        );
      } catch (err) {
        reply(conn, errorFrame(errorCode(err), errorMessage(err), idOf(value)), enc);
      }
    },
    close() {
      pub.metrics.connections.dec();
    },
  };
}

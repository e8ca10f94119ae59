/**
 * Raw uWebSockets.js, the reference for fan-out and idle connections: the
 * same frames as jetmesh, no NATS behind. A `sub` subscribes the socket to a
 * uWS topic; a `pub` is acked and broadcast with one `app.publish` per event.
 */
import uWS from "uWebSockets.js";
import { serve } from "./rpc.ts";
import { listenLoopback } from "./uws-listen.ts";

const decoder = new TextDecoder();

async function start() {
  let seq = 0;
  const app: uWS.TemplatedApp = uWS.App().ws<Record<string, never>>("/*", {
    maxPayloadLength: 1 << 20,
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, ctx) =>
      res.upgrade(
        {},
        req.getHeader("sec-websocket-key"),
        req.getHeader("sec-websocket-protocol"),
        req.getHeader("sec-websocket-extensions"),
        ctx,
      ),
    message: (ws, message) => {
      const f = JSON.parse(decoder.decode(message)) as {
        op: string;
        id?: string;
        channel: string;
        data?: unknown;
      };
      if (f.op === "sub") {
        ws.subscribe(f.channel);
        ws.send(`{"op":"subscribed","channel":"${f.channel}"}`);
        return;
      }
      const n = ++seq;
      ws.send(`{"op":"ack","id":"${f.id}","seq":${n},"dup":false}`);
      app.publish(
        f.channel,
        JSON.stringify({
          op: "event",
          channel: f.channel,
          cursor: `1-${n}`,
          id: f.id,
          ts: Date.now(),
          data: f.data,
        }),
      );
    },
  });
  const port = await listenLoopback(app);
  return { port };
}

serve({ start });

/**
 * The minimal one-hop prototype the latency targets compare against:
 * WebSocket → JetStream → pull consumer → WebSocket, in two processes (one
 * worker each), speaking the same frames as jetmesh. No validation, envelope,
 * routing hop or dedupe store: only what any such pipeline must do.
 */
import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import uWS from "uWebSockets.js";
import { num, serve, str } from "./rpc.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function listen(app: uWS.TemplatedApp): Promise<number> {
  return new Promise((resolve, reject) =>
    app.listen(
      "127.0.0.1",
      0,
      (s) => (s
        ? resolve(uWS.us_socket_local_port(s as uWS.us_socket))
        : reject(new Error("cannot listen"))),
    )
  );
}

/** Publisher side: a frame in, a JetStream publish with msgID, an ack out after the PubAck. */
async function ingest(args: Record<string, unknown>) {
  const nc = await connect({
    servers: str(args, "url"),
    user: str(args, "user", "") || undefined,
    pass: str(args, "pass", "") || undefined,
    noAsyncTraces: true,
    name: "bench-proto-ingest",
  });
  const stream = str(args, "stream");
  const prefix = str(args, "prefix");
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], duplicate_window: 120e9 });
  const js = jetstream(nc);
  const app = uWS.App().ws<{ open: boolean }>("/*", {
    maxPayloadLength: 1 << 20,
    upgrade: (res, req, ctx) =>
      res.upgrade(
        { open: true },
        req.getHeader("sec-websocket-key"),
        req.getHeader("sec-websocket-protocol"),
        req.getHeader("sec-websocket-extensions"),
        ctx,
      ),
    message: (ws, message) => {
      const f = JSON.parse(decoder.decode(message)) as {
        id: string;
        channel: string;
        data: unknown;
      };
      js.publish(
        `${prefix}.${f.channel}`,
        encoder.encode(JSON.stringify({ id: f.id, channel: f.channel, data: f.data })),
        { msgID: f.id },
      )
        .then((pa) => {
          if (ws.getUserData().open) {
            ws.cork(() => ws.send(`{"op":"ack","id":"${f.id}","seq":${pa.seq}}`));
          }
        });
    },
    close: (ws) => {
      ws.getUserData().open = false;
    },
  });
  return { port: await listen(app) };
}

/**
 * Subscriber side: one pull consumer for the stream; each event is sent to the sockets
 * subscribed to its channel.
 */
async function notify(args: Record<string, unknown>) {
  const nc = await connect({
    servers: str(args, "url"),
    user: str(args, "user", "") || undefined,
    pass: str(args, "pass", "") || undefined,
    noAsyncTraces: true,
    name: "bench-proto-notify",
  });
  const stream = str(args, "stream");
  const jsm = await jetstreamManager(nc);
  const last = (await jsm.streams.info(stream)).state.last_seq;
  const js = jetstream(nc);
  const subs = new Map<string, Set<uWS.WebSocket<{ channels: string[] }>>>();
  const app = uWS.App().ws<{ channels: string[] }>("/*", {
    maxPayloadLength: 1 << 20,
    upgrade: (res, req, ctx) =>
      res.upgrade(
        { channels: [] },
        req.getHeader("sec-websocket-key"),
        req.getHeader("sec-websocket-protocol"),
        req.getHeader("sec-websocket-extensions"),
        ctx,
      ),
    message: (ws, message) => {
      const f = JSON.parse(decoder.decode(message)) as { channel: string };
      let set = subs.get(f.channel);
      if (!set) subs.set(f.channel, set = new Set());
      set.add(ws);
      ws.getUserData().channels.push(f.channel);
      ws.send(`{"op":"subscribed","channel":"${f.channel}"}`);
    },
    close: (ws) => {
      for (const ch of ws.getUserData().channels) subs.get(ch)?.delete(ws);
    },
  });
  const consumer = await js.consumers.get(stream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: last + 1,
  });
  await consumer.consume({
    max_messages: num(args, "maxMessages", 256),
    callback: (m: JsMsg) => {
      const e = JSON.parse(decoder.decode(m.data)) as {
        id: string;
        channel: string;
        data: unknown;
      };
      const set = subs.get(e.channel);
      if (!set) return;
      const frame = JSON.stringify({
        op: "event",
        channel: e.channel,
        cursor: `1-${m.seq}`,
        id: e.id,
        data: e.data,
      });
      for (const ws of set) ws.cork(() => ws.send(frame));
    },
  });
  return { port: await listen(app) };
}

serve({ ingest, notify });

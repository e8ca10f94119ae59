/**
 * A Socket.IO 4 server, a peer the bench compares jetmesh with: rooms are channels, `sub` joins
 * one, `pub` broadcasts to one and acks the publisher. WebSocket transport only (no polling
 * upgrade, no served client), on `ws` (Engine.IO's default) or on uWebSockets.js
 * (`io.attachApp`), whose broadcasts to a room go through uWS's own pub/sub.
 *
 * Nothing is stored: an event reaches who is in the room at that moment, as Socket.IO's
 * default in-memory adapter does in production.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import uWS from "uWebSockets.js";
import { serve, str } from "./rpc.ts";
import { listenLoopback } from "./uws-listen.ts";

interface Pub {
  channel: string;
  data: unknown;
}

function wire(io: Server): void {
  io.on("connection", (socket) => {
    socket.on("sub", (channel: string, ack?: () => void) => {
      socket.join(channel);
      ack?.();
    });
    socket.on("pub", (msg: Pub, ack?: () => void) => {
      io.to(msg.channel).emit("event", msg);
      ack?.();
    });
  });
}

// Socket.IO's defaults, except what the bench cannot use: polling, and the client bundle.
const OPTIONS = { transports: ["websocket" as const], serveClient: false };

async function start(args: Record<string, unknown>) {
  const engine = str(args, "engine", "ws");
  if (engine === "uws") {
    const app = uWS.App();
    const io = new Server(OPTIONS);
    io.attachApp(app);
    wire(io);
    const port = await listenLoopback(app);
    return { port };
  }
  const http = createServer();
  const io = new Server(http, OPTIONS);
  wire(io);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { port: (http.address() as AddressInfo).port };
}

serve({ start });

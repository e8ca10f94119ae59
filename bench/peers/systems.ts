/**
 * The systems the peers phase compares, started for it: jetmesh (the bench's running stack),
 * Centrifugo v6 and Socket.IO 4 on `ws` and on uWebSockets.js. Each says where the load
 * generator connects, in which protocol, which processes are the server (their CPU is what a
 * delivery costs), and what it guarantees, so that no row reads as like for like when it is not.
 */
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";
import type { Ctx } from "../phases/context.ts";
import { Worker } from "../worker.ts";
import type { ProtocolName } from "../workers/protocols.ts";
import { centrifugoBinary, channelOf, startCentrifugo } from "./centrifugo.ts";

export type SystemKey = "jetmesh" | "centrifugo" | "sio-ws" | "sio-uws";

export const GUARANTEES: Record<SystemKey, string> = {
  jetmesh:
    "every event persisted in PostgreSQL before its ack; exactly once, in order per channel; resume from a cursor",
  centrifugo:
    "history in memory (lost on restart) with recovery on resubscribe; publish at most once; no per-event persistence",
  "sio-ws": "nothing stored; no resume; at most once",
  "sio-uws": "nothing stored; no resume; at most once",
};

export const LABELS: Record<SystemKey, string> = {
  jetmesh: "jetmesh",
  centrifugo: "Centrifugo v6",
  "sio-ws": "Socket.IO 4 (ws)",
  "sio-uws": "Socket.IO 4 (uWS)",
};

export interface System {
  key: SystemKey;
  protocol: ProtocolName;
  publishUrl: string;
  subscribeUrl: string;
  token?: string;
  /** The server's processes: their CPU is what its deliveries cost. */
  pids: Record<string, number>;
  /** The system's name for a bench channel (Centrifugo's carry its namespace). */
  channel(name: string): string;
  /** A full collection of a Go server's heap (Node servers are collected through --inspect). */
  collect?(): Promise<void>;
  stop(): Promise<void>;
}

const same = (name: string) => name;

export function jetmeshSystem(ctx: Ctx, token: string): System {
  return {
    key: "jetmesh",
    protocol: "jetmesh",
    publishUrl: ctx.stack.ingestWs,
    subscribeUrl: ctx.stack.notifyWs,
    token,
    // As the fan-out phase counts: the services and nats-server; PostgreSQL's processes are
    // not counted (they serve persist, which a delivery does not wait for).
    pids: { ...ctx.stack.pids(), nats: ctx.nats.pid ?? -1 },
    channel: same,
    stop: async () => {},
  };
}

/** A fresh Centrifugo with its own HS256 secret, and a token for the bench's clients. */
export async function centrifugoSystem(): Promise<System> {
  const { bin, reason } = centrifugoBinary();
  if (!bin) throw new Error(reason);
  const { secret } = jwtAuth();
  const c = await startCentrifugo(bin, secret);
  return {
    key: "centrifugo",
    protocol: "centrifugo",
    publishUrl: c.wsUrl,
    subscribeUrl: c.wsUrl,
    token: await mintToken(secret, "bench-peers"),
    pids: { centrifugo: c.pid },
    channel: channelOf,
    collect: c.collect,
    stop: c.stop,
  };
}

/** A Socket.IO server in a worker of its own; `env` may add `--inspect` for the idle ramps. */
export async function socketioSystem(
  engine: "ws" | "uws",
  env: NodeJS.ProcessEnv = {},
): Promise<System> {
  const w = await Worker.start(`socket.io-${engine}`, "sio.ts", env);
  try {
    const { port } = await w.call<{ port: number }>("start", { engine });
    const url = `ws://127.0.0.1:${port}/socket.io/`;
    return {
      key: engine === "ws" ? "sio-ws" : "sio-uws",
      protocol: "socketio",
      publishUrl: url,
      subscribeUrl: url,
      pids: { [`socket.io-${engine}`]: w.pid },
      channel: same,
      stop: () => w.stop(),
    };
  } catch (err) {
    await w.stop();
    throw err;
  }
}

/** Starts a peer, or says why it did not start (its rows then read "not run: …"). */
export async function tryStart(
  start: () => Promise<System>,
): Promise<{ system?: System; notRun?: string }> {
  try {
    return { system: await start() };
  } catch (err) {
    return { notRun: (err as Error).message.split("\n")[0] };
  }
}

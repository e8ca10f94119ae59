import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { streamConfigs, type StreamSettings } from "../../subjects/mod.ts";
import type { NatsConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { connectBus } from "./connect.ts";
import { ensureStreams } from "./streams.ts";

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** False while the connection is down (it reconnects on its own). */
  connected(): boolean;
}

/** Connects and makes sure the streams exist: the first step of every service. */
export async function openBus(nats: NatsConfig, service: string, streams: StreamSettings, log: Logger): Promise<Bus> {
  const { nc, connected } = await connectBus({ nats, service, log });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, streamConfigs(streams), log);
    return { nc, js: jetstream(nc), jsm, connected };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

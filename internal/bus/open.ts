import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { streamConfigs, type StreamSettings } from "../../subjects/mod.ts";
import type { Logger } from "../log/mod.ts";
import { connectBus } from "./connect.ts";
import { ensureStreams } from "./streams.ts";

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** Connects and makes sure the streams exist: the first step of every service. */
export async function openBus(servers: string[], name: string, streams: StreamSettings, log: Logger): Promise<Bus> {
  const nc = await connectBus({ servers, name, log });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, streamConfigs(streams), log);
    return { nc, js: jetstream(nc), jsm };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

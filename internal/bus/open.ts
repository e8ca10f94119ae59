import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { NatsConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { connectBus } from "./connect.ts";
import { requireStreams } from "./require.ts";

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** False while the connection is down (it reconnects on its own). */
  connected(): boolean;
}

/**
 * Connects and checks that the streams the service uses exist: the first step
 * of every service. It does not create them: the migration does (cmd/migrate,
 * as the NATS admin user), and a missing one ends the start with `not_migrated`.
 */
export async function openBus(
  nats: NatsConfig,
  service: string,
  streams: readonly string[],
  log: Logger,
): Promise<Bus> {
  const { nc, connected } = await connectBus({ nats, service, log });
  try {
    const jsm = await jetstreamManager(nc);
    await requireStreams(jsm, streams, service);
    return { nc, js: jetstream(nc), jsm, connected };
  } catch (err) {
    await nc.close();
    throw err;
  }
}

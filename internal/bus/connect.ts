import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../log/mod.ts";

export interface BusOptions {
  servers: string[];
  /** Connection name, shown by `nats server report connections`. */
  name: string;
  log: Logger;
}

/**
 * Connects to NATS and keeps reconnecting forever: a service outlives any
 * nats-server restart or leader change, it never exits because the bus blinked.
 */
export async function connectBus(o: BusOptions): Promise<NatsConnection> {
  const nc = await connect({
    servers: o.servers,
    name: o.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    // Async stack traces cost about half of publish throughput (STACK.md).
    noAsyncTraces: true,
  });
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        o.log.warn(`nats ${s.type}`, { server: "server" in s ? s.server : undefined });
      }
    }
  })().catch(() => {});
  o.log.info("nats connected", { server: nc.getServer() });
  return nc;
}

import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { NatsConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";

export interface BusOptions {
  nats: NatsConfig;
  /**
   * Service name: the connection is `jetmesh-<service>` and its inboxes are
   * `_INBOX.<service>.…`.
   */
  service: string;
  log: Logger;
}

export interface BusConnection {
  nc: NatsConnection;
  /** False between a disconnect and the next reconnect. */
  connected(): boolean;
}

/** Inbox prefix of a service: its NATS user may subscribe to `<prefix>.>` and to no other inbox. */
export function inboxPrefix(service: string): string {
  return `_INBOX.${service}`;
}

/**
 * Connects to NATS and keeps reconnecting forever: a service outlives any
 * nats-server restart or leader change, it never exits because the bus blinked.
 */
export async function connectBus(o: BusOptions): Promise<BusConnection> {
  const nc = await connect({
    servers: o.nats.servers,
    name: `jetmesh-${o.service}`,
    ...o.nats.auth,
    // Replies and pulled messages arrive under this prefix, so a service can
    // be allowed its own inboxes without reading another service's.
    inboxPrefix: inboxPrefix(o.service),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    waitOnFirstConnect: true,
    // Async stack traces cost about half of publish throughput (measured with `make bench`).
    noAsyncTraces: true,
  });
  let up = true;
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") up = false;
      if (s.type === "reconnect") up = true;
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        o.log.warn(`nats ${s.type}`, {
          server: "server" in s ? s.server : undefined,
          err: "error" in s ? s.error : undefined,
        });
      }
    }
  })().catch(() => {});
  o.log.info("nats connected", { server: nc.getServer() });
  return { nc, connected: () => up && !nc.isClosed() };
}

/**
 * Calls `fn` each time the connection comes back after losing its server (a restart, a
 * failover).
 */
export function onReconnect(nc: NatsConnection, fn: () => void): void {
  (async () => {
    for await (const s of nc.status()) if (s.type === "reconnect") fn();
  })().catch(() => {});
}

import type { Bus } from "./open.ts";

/**
 * Readiness of the bus for one service: connected, and the streams it reads
 * or writes answer (a stream without a leader, or a JetStream domain that is
 * down, fails here while the connection itself is fine).
 */
export function busChecks(bus: Bus, streams: string[]): Record<string, () => Promise<void>> {
  return {
    nats: async () => {
      if (!bus.connected()) throw new Error("not connected to NATS (reconnecting)");
    },
    streams: async () => {
      await Promise.all(streams.map((s) => bus.jsm.streams.info(s)));
    },
  };
}

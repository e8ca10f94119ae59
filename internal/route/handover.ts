import type { JetStreamManager } from "@nats-io/jetstream";
import { INGEST_STREAM, ROUTE_PRIORITY_GROUP, routeConsumerName } from "../../subjects/mod.ts";
import { dropPin, pinOf } from "../bus/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { RouteMetrics } from "./metrics.ts";

/**
 * Unpins every partition this replica holds, once it has stopped pulling and
 * acked everything it relayed: a replica waiting on the partition is pinned by
 * its next pull instead of after the pin timeout. Only partitions this process
 * holds a pin on are unpinned, so a stopping standby never takes a partition
 * away from a working replica. A failed unpin costs only time: the pin then
 * lapses after the pin timeout.
 */
export async function handOver(
  jsm: JetStreamManager,
  partitions: number,
  log: Logger,
  metrics: RouteMetrics,
): Promise<void> {
  const held: number[] = [];
  for (let p = 0; p < partitions; p++) {
    if (pinOf(INGEST_STREAM, routeConsumerName(p)) !== undefined) held.push(p);
  }
  await Promise.all(held.map(async (p) => {
    const name = routeConsumerName(p);
    try {
      await jsm.consumers.unpin(INGEST_STREAM, name, ROUTE_PRIORITY_GROUP);
      dropPin(INGEST_STREAM, name);
      metrics.partitionsHandedOver.inc();
    } catch (err) {
      log.warn("partition not unpinned; it moves after the pin timeout", { err, consumer: name });
    }
  }));
  if (held.length > 0) log.info("partitions handed over", { partitions: held });
}

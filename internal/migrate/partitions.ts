import type { ConsumerInfo, StreamConfig } from "@nats-io/jetstream";
import {
  DEFAULT_PARTITIONS,
  INGEST_STREAM,
  isRouteConsumer,
  PARTITIONS_METADATA_KEY,
  partitionsFromMetadata,
  ROUTE_CONSUMER,
  ROUTE_CONSUMER_PREFIX,
} from "../../subjects/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { MigrateOptions } from "./migrate.ts";

type Retry = <T>(fn: () => Promise<T>) => Promise<T>;

async function routeConsumers(o: MigrateOptions): Promise<ConsumerInfo[]> {
  const out: ConsumerInfo[] = [];
  for await (const ci of o.jsm.consumers.list(INGEST_STREAM)) {
    if (isRouteConsumer(ci.name)) out.push(ci);
  }
  return out;
}

function undrained(cis: ConsumerInfo[]): string[] {
  return cis.filter((ci) => ci.num_pending > 0 || ci.num_ack_pending > 0)
    .map((ci) => `${ci.name} (${ci.num_pending} pending, ${ci.num_ack_pending} unacked)`);
}

/**
 * Refuses to change P while route has events left to relay. A channel whose
 * events sit in its old partition and its new one could be relayed out of
 * order (two partitions may be held by two replicas), so P changes only on a
 * drained INGEST: ingest stopped, route finished, then the migration, then
 * ingest and route started again (docs/architecture.md, "Changing P"). The
 * first run on a stream from before partitions sets P the same way: the old
 * single durable `route` must be drained.
 */
export async function checkPartitionChange(
  o: MigrateOptions,
  have: StreamConfig,
  want: { metadata?: Record<string, string> },
  retry: Retry,
): Promise<void> {
  const before = partitionsFromMetadata(have.metadata);
  const after = partitionsFromMetadata(want.metadata) ?? DEFAULT_PARTITIONS;
  if (before === after) return;
  const busy = undrained(await retry(() => routeConsumers(o)));
  if (busy.length > 0) {
    throw new JetmeshError(
      "bad_config",
      `${INGEST_STREAM} ${PARTITIONS_METADATA_KEY}: ${
        before ?? "none (before partitions)"
      } → ${after} ` +
        `refused while route has events left: ${busy.join(", ")}. Stop ingest, let route ` +
        'drain, stop route, then run the migration again (docs/architecture.md, "Changing P")',
    );
  }
  o.log.info("partitions changing on a drained INGEST", { from: before ?? null, to: after });
}

/**
 * route's durables that P no longer has: the single `route` from before
 * partitions and `route-<p>` for p ≥ P. Deleted only once drained; a durable
 * with events left stops the migration (checkPartitionChange refused before
 * P moved, so one with events left here was filled by an old ingest still running).
 */
export async function obsoleteRouteConsumers(o: MigrateOptions): Promise<string[]> {
  const p = o.streams.partitions ?? DEFAULT_PARTITIONS;
  const old = (await routeConsumers(o)).filter((ci) =>
    ci.name === ROUTE_CONSUMER ||
    Number(ci.name.slice(ROUTE_CONSUMER_PREFIX.length)) >= p
  );
  const busy = undrained(old);
  if (busy.length > 0) {
    throw new JetmeshError(
      "bad_config",
      `route durables outside the ${p} partitions still hold events: ${busy.join(", ")}. ` +
        "Stop every ingest and route from before the change, let them drain, then migrate again",
    );
  }
  return old.map((ci) => ci.name);
}

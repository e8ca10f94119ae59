import { AckPolicy, type ConsumerConfig, DeliverPolicy, ReplayPolicy } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { partitionFilter } from "./partitions.ts";
import { EVENTS_PREFIX, EVENTS_STREAM, INGEST_PREFIX, INGEST_STREAM } from "./streams.ts";

/**
 * The single durable of route before partitions (issue 14). The migration deletes it once it is
 * drained and refuses to go on while it still holds events (docs/architecture.md, "Upgrading to
 * partitions").
 */
export const ROUTE_CONSUMER = "route";
/** route's durables are `route-<partition>`, one per INGEST partition. */
export const ROUTE_CONSUMER_PREFIX = "route-";
/**
 * The priority group every route replica pulls in. With `pinned_client` the
 * server hands a partition's messages to one replica (the pinned one) and
 * moves the pin to another puller only after the pinned one has not pulled
 * for `priority_timeout`: one relayer per partition at a time, with failover,
 * and no election of our own.
 */
export const ROUTE_PRIORITY_GROUP = "route";
/** nats.js 3.4 declares `PriorityPolicy` but does not export it at run time. */
const PINNED_CLIENT = "pinned_client";
export const PERSIST_CONSUMER = "persist";

export interface ConsumerSettings {
  ackWaitMs: number;
  maxAckPending: number;
}

export interface RouteConsumerSettings extends ConsumerSettings {
  /** How long a replica may stop pulling before its partitions go to another (failover time). */
  pinTimeoutMs: number;
}

export interface DurableConsumer {
  stream: string;
  config: Partial<ConsumerConfig> & { durable_name: string };
}

function durable(
  name: string,
  stream: string,
  prefix: string,
  description: string,
  s: ConsumerSettings,
): DurableConsumer {
  return {
    stream,
    config: {
      durable_name: name,
      description,
      filter_subject: `${prefix}.>`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      ack_wait: nanos(s.ackWaitMs),
      max_ack_pending: s.maxAckPending,
    },
  };
}

/** Shown by `nats consumer info` and `nats consumer ls`: what the durable does and when it acks. */
export const CONSUMER_DESCRIPTIONS = {
  [ROUTE_CONSUMER]:
    `jetmesh route: moves each ${INGEST_PREFIX}.<partition>.<channel> event to ${EVENTS_PREFIX}.<channel>, acks once ${EVENTS_STREAM} stored it`,
  [PERSIST_CONSUMER]:
    `jetmesh persist: writes each event to PostgreSQL (table events), acks after the commit`,
} as const;

export function routeConsumerName(partition: number): string {
  return `${ROUTE_CONSUMER_PREFIX}${partition}`;
}

/** Whether a consumer on INGEST is one of route's: the old single durable or a partition's. */
export function isRouteConsumer(name: string): boolean {
  return name === ROUTE_CONSUMER ||
    (name.startsWith(ROUTE_CONSUMER_PREFIX) &&
      /^[0-9]+$/.test(name.slice(ROUTE_CONSUMER_PREFIX.length)));
}

/** route, partition `partition`: `ingest.<partition>.>` → EVENTS, pinned to one replica. */
export function routeConsumer(partition: number, s: RouteConsumerSettings): DurableConsumer {
  const c = durable(
    routeConsumerName(partition),
    INGEST_STREAM,
    INGEST_PREFIX,
    `${CONSUMER_DESCRIPTIONS[ROUTE_CONSUMER]} (partition ${partition})`,
    s,
  );
  c.config.filter_subject = partitionFilter(partition);
  Object.assign(c.config, {
    priority_policy: PINNED_CLIENT,
    priority_groups: [ROUTE_PRIORITY_GROUP],
    priority_timeout: nanos(s.pinTimeoutMs),
  });
  return c;
}

/** persist: EVENTS → PostgreSQL. */
export function persistConsumer(s: ConsumerSettings): DurableConsumer {
  return durable(
    PERSIST_CONSUMER,
    EVENTS_STREAM,
    EVENTS_PREFIX,
    CONSUMER_DESCRIPTIONS[PERSIST_CONSUMER],
    s,
  );
}

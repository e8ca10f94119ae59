import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Every jetmesh metric, named once. Each service registers the ones that
 * apply to it (see its metrics.ts); the Grafana dashboard in infra/ queries
 * these names, and a test checks that they are really exported.
 *
 * Hot paths call `inc()`/`observe()` on metrics without labels: no label set
 * is hashed per event.
 */
const LATENCY_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
];
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

const counter = (name: string, help: string) => (reg: Registry) =>
  new Counter({ name, help, registers: [reg] });
const gauge = (name: string, help: string) => (reg: Registry) =>
  new Gauge({ name, help, registers: [reg] });
const histogram = (name: string, help: string, buckets: number[]) => (reg: Registry) =>
  new Histogram({ name, help, buckets, registers: [reg] });

export const eventsReceived = counter(
  "jetmesh_events_received_total",
  "Events taken in: valid publishes from clients (ingest), messages pulled from the service's JetStream consumer (route, persist, notify)",
);
export const eventsPublished = counter(
  "jetmesh_events_published_total",
  "Events stored by JetStream on publish: to INGEST (ingest), to EVENTS (route); duplicates not included",
);
export const eventsDuplicate = counter(
  "jetmesh_events_duplicate_total",
  "Publishes JetStream dropped as duplicates of an event already stored (client retries, redeliveries; for route, anything routed within the dedupe horizon ROUTE_DEDUPE_TTL)",
);
export const eventsAcked = counter(
  "jetmesh_events_acked_total",
  "Events acknowledged: to the client after its PubAck (ingest), to JetStream once the next hop has them (route, persist)",
);
export const eventsRedelivered = counter(
  "jetmesh_events_redelivered_total",
  "Messages JetStream delivered more than once (a worker died or was slower than its ack wait)",
);
/** route (issue 14): partitions that came to this replica, and ones it gave up on stopping. */
export const partitionsGained = counter(
  "jetmesh_route_partitions_gained_total",
  "INGEST partitions whose pin came to this route replica (start, failover or hand-over)",
);
export const partitionsHandedOver = counter(
  "jetmesh_route_partitions_handed_over_total",
  "INGEST partitions this route replica unpinned on a graceful stop, for another to take",
);
export const eventsDeadLettered = counter(
  "jetmesh_events_dlq_total",
  "Events parked on the DLQ stream",
);
export const eventsFailed = counter(
  "jetmesh_events_failed_total",
  "Publishes answered with an error (ingest: unavailable or internal) or left for redelivery after an error (route)",
);
export const lateRetries = counter(
  "jetmesh_events_late_retry_total",
  "Inputs to processing rules: client retries that arrived after INGEST's duplicate window and were dropped by route's seen-ids record",
);
export const alreadyRouted = counter(
  "jetmesh_events_already_routed_total",
  "Inputs to processing rules redelivered after route had processed and recorded them (an ack lost in a crash, a consumer that lost its state): acked, not emitted again",
);
export const eventsDelivered = counter(
  "jetmesh_events_delivered_total",
  "Events written to subscriber WebSockets (one per subscription)",
);

export const publishAckSeconds = histogram(
  "jetmesh_publish_ack_seconds",
  "From a JetStream publish until its PubAck, retries included",
  LATENCY_BUCKETS,
);
export const publishToDeliverSeconds = histogram(
  "jetmesh_publish_to_deliver_seconds",
  "From ingest receiving an event (envelope ts) until notify wrote it to a subscriber; live events only, not replays",
  LATENCY_BUCKETS,
);

export const wsConnections = gauge("jetmesh_ws_connections", "Open WebSocket connections");
export const wsSubscriptions = gauge(
  "jetmesh_ws_subscriptions",
  "Active subscriptions over all connections",
);

export const dbBatchRows = histogram(
  "jetmesh_db_batch_rows",
  "Rows per INSERT statement",
  BATCH_BUCKETS,
);
export const dbCommitSeconds = histogram(
  "jetmesh_db_commit_seconds",
  "Duration of one successful batch INSERT (one transaction)",
  LATENCY_BUCKETS,
);
export const dbErrors = counter(
  "jetmesh_db_errors_total",
  "Batch INSERTs that failed (and were retried or split)",
);

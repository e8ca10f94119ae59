import { AckPolicy, type ConsumerConfig, DeliverPolicy, ReplayPolicy } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { EVENTS_PREFIX, EVENTS_STREAM, INGEST_PREFIX, INGEST_STREAM } from "./streams.ts";

export const ROUTE_CONSUMER = "route";
export const PERSIST_CONSUMER = "persist";

export interface ConsumerSettings {
  ackWaitMs: number;
  maxAckPending: number;
}

export interface DurableConsumer {
  stream: string;
  config: Partial<ConsumerConfig> & { durable_name: string };
}

function durable(name: string, stream: string, prefix: string, description: string, s: ConsumerSettings): DurableConsumer {
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

/** route: INGEST → EVENTS. */
export function routeConsumer(s: ConsumerSettings): DurableConsumer {
  return durable(ROUTE_CONSUMER, INGEST_STREAM, INGEST_PREFIX, "jetmesh route: ingest.> to events.>", s);
}

/** persist: EVENTS → PostgreSQL. */
export function persistConsumer(s: ConsumerSettings): DurableConsumer {
  return durable(PERSIST_CONSUMER, EVENTS_STREAM, EVENTS_PREFIX, "jetmesh persist: events.> to PostgreSQL", s);
}

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
    `jetmesh route: moves each ${INGEST_PREFIX}.<channel> event to ${EVENTS_PREFIX}.<channel>, acks once ${EVENTS_STREAM} stored it`,
  [PERSIST_CONSUMER]:
    `jetmesh persist: writes each event to PostgreSQL (table events), acks after the commit`,
} as const;

/** route: INGEST → EVENTS. */
export function routeConsumer(s: ConsumerSettings): DurableConsumer {
  return durable(
    ROUTE_CONSUMER,
    INGEST_STREAM,
    INGEST_PREFIX,
    CONSUMER_DESCRIPTIONS[ROUTE_CONSUMER],
    s,
  );
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

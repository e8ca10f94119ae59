import {
  alreadyRouted,
  eventsAcked,
  eventsDeadLettered,
  eventsDuplicate,
  eventsFailed,
  eventsPublished,
  eventsReceived,
  eventsRedelivered,
  lateRetries,
  partitionsGained,
  partitionsHandedOver,
  publishAckSeconds,
  type Registry,
} from "../metrics/mod.ts";

export function routeMetrics(reg: Registry) {
  return {
    received: eventsReceived(reg),
    redelivered: eventsRedelivered(reg),
    published: eventsPublished(reg),
    duplicates: eventsDuplicate(reg),
    acked: eventsAcked(reg),
    deadLettered: eventsDeadLettered(reg),
    failed: eventsFailed(reg),
    lateRetries: lateRetries(reg),
    alreadyRouted: alreadyRouted(reg),
    publishAck: publishAckSeconds(reg),
    partitionsGained: partitionsGained(reg),
    partitionsHandedOver: partitionsHandedOver(reg),
  };
}

export type RouteMetrics = ReturnType<typeof routeMetrics>;

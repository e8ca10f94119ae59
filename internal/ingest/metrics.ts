import {
  eventsAcked,
  eventsDuplicate,
  eventsFailed,
  eventsPublished,
  eventsReceived,
  publishAckSeconds,
  type Registry,
  wsConnections,
} from "../metrics/mod.ts";

export function ingestMetrics(reg: Registry) {
  return {
    received: eventsReceived(reg),
    published: eventsPublished(reg),
    duplicates: eventsDuplicate(reg),
    acked: eventsAcked(reg),
    failed: eventsFailed(reg),
    publishAck: publishAckSeconds(reg),
    connections: wsConnections(reg),
  };
}

export type IngestMetrics = ReturnType<typeof ingestMetrics>;

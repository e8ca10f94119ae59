import {
  eventsDelivered,
  eventsReceived,
  publishToDeliverSeconds,
  type Registry,
  wsConnections,
  wsSubscriptions,
} from "../metrics/mod.ts";

export function notifyMetrics(reg: Registry) {
  return {
    received: eventsReceived(reg),
    delivered: eventsDelivered(reg),
    publishToDeliver: publishToDeliverSeconds(reg),
    connections: wsConnections(reg),
    subscriptions: wsSubscriptions(reg),
  };
}

export type NotifyMetrics = ReturnType<typeof notifyMetrics>;

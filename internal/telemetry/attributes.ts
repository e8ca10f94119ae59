/**
 * Span attribute names. The messaging ones follow the OpenTelemetry semantic
 * conventions for messaging; the jetmesh ones name what an operator searches
 * a trace by (the event id, the channel) and where the event sat.
 */
export const ATTR = {
  messagingSystem: "messaging.system",
  destination: "messaging.destination.name",
  operation: "messaging.operation.type",
  eventId: "jetmesh.event.id",
  channel: "jetmesh.channel",
  publisher: "jetmesh.publisher",
  stream: "jetmesh.stream",
  streamSeq: "jetmesh.stream.seq",
  deliveryCount: "jetmesh.delivery_count",
  duplicate: "jetmesh.duplicate",
  outStream: "jetmesh.out.stream",
  outSeq: "jetmesh.out.seq",
  batchSize: "jetmesh.batch.size",
  subscription: "jetmesh.subscription",
  dlq: "jetmesh.dlq",
} as const;

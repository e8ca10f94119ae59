/**
 * Statuses of an ordered consumer that mean the server lost it (a nats-server
 * restart, the node holding it died). nats.js 3.4 recreates the consumer
 * itself on these, but keeps counting the lost pull's messages as pending and
 * so never pulls again: the reader would stall. Notify replaces the consumer
 * itself instead.
 */
export const CONSUMER_LOST = new Set([
  "consumer_not_found",
  "consumer_deleted",
  "reset",
  "heartbeats_missed",
  "no_responders",
]);

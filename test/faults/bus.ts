import { type ConsumerInfo, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  DLQ_STREAM,
  EVENTS_STREAM,
  INGEST_STREAM,
  isRouteConsumer,
  PERSIST_CONSUMER,
} from "../../subjects/mod.ts";
import type { NatsCredentials } from "../../devkit/nats-users.ts";

/**
 * The admin user the test's own view of the bus logs in as (one fault run per process); set by
 * startHarness.
 */
let admin: NatsCredentials | undefined;
export function useAdmin(credentials: NatsCredentials): void {
  admin = credentials;
}

export interface ConsumerCounts {
  pending: number;
  ackPending: number;
  /**
   * Deliveries beyond the first of each message, since the consumer was
   * created: its delivery sequence counts every delivery, its stream sequence
   * only new messages (the filter covers the whole stream, which never deletes).
   */
  redeliveries: number;
}

export interface BusState {
  route: ConsumerCounts;
  persist: ConsumerCounts;
  dlqMessages: number;
}

/**
 * Runs `fn` on a connection of its own, opened for the call: the test's view
 * of the bus must not depend on a connection that lived through a server kill.
 */
export async function withJsm<T>(
  servers: string[],
  fn: (jsm: JetStreamManager) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers, timeout: 3000, reconnect: false, ...admin });
  try {
    return await fn(await jetstreamManager(nc, { timeout: 3000 }));
  } finally {
    await nc.close();
  }
}

function counts(ci: ConsumerInfo): ConsumerCounts {
  return {
    pending: ci.num_pending,
    ackPending: ci.num_ack_pending,
    redeliveries: ci.delivered.consumer_seq - ci.delivered.stream_seq,
  };
}

/**
 * route's partition durables (issue 14) summed: each filters one partition, so
 * the messages delivered at least once are INGEST's messages less what waits
 * on every partition (stream read first: an event stored in between counts as
 * delivered late, never as a redelivery too many... up to the few stored
 * between the reads).
 */
async function routeCounts(jsm: JetStreamManager): Promise<ConsumerCounts> {
  const stored = (await jsm.streams.info(INGEST_STREAM)).state.messages;
  const sum = { pending: 0, ackPending: 0, deliveries: 0 };
  for await (const ci of jsm.consumers.list(INGEST_STREAM)) {
    if (!isRouteConsumer(ci.name)) continue;
    sum.pending += ci.num_pending;
    sum.ackPending += ci.num_ack_pending;
    sum.deliveries += ci.delivered.consumer_seq;
  }
  return {
    pending: sum.pending,
    ackPending: sum.ackPending,
    redeliveries: Math.max(0, sum.deliveries - (stored - sum.pending)),
  };
}

export function busState(servers: string[]): Promise<BusState> {
  return withJsm(servers, async (jsm) => ({
    route: await routeCounts(jsm),
    persist: counts(await jsm.consumers.info(EVENTS_STREAM, PERSIST_CONSUMER)),
    dlqMessages: (await jsm.streams.info(DLQ_STREAM)).state.messages,
  }));
}

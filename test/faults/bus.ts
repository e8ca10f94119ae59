import { type ConsumerInfo, type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  DLQ_STREAM,
  EVENTS_STREAM,
  INGEST_STREAM,
  PERSIST_CONSUMER,
  ROUTE_CONSUMER,
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

export function busState(servers: string[]): Promise<BusState> {
  return withJsm(servers, async (jsm) => ({
    route: counts(await jsm.consumers.info(INGEST_STREAM, ROUTE_CONSUMER)),
    persist: counts(await jsm.consumers.info(EVENTS_STREAM, PERSIST_CONSUMER)),
    dlqMessages: (await jsm.streams.info(DLQ_STREAM)).state.messages,
  }));
}

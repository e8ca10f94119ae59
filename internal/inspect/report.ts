import type { ConsumerInfo, JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import {
  DLQ_STREAM,
  EVENTS_STREAM,
  INGEST_STREAM,
  isRouteConsumer,
  PERSIST_CONSUMER,
  SEEN_BUCKET,
} from "../../subjects/mod.ts";

export interface StreamRow {
  name: string;
  messages: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  consumers: number;
  replicas: number;
  maxAgeMs: number;
  created: string;
}

export interface ConsumerRow {
  stream: string;
  name: string;
  /** The jetmesh durables; everything else on EVENTS is a notify subscription. */
  durable: boolean;
  /** Stored and not yet delivered to the consumer: its lag. */
  pending: number;
  /** Delivered, not yet acknowledged: in the worker's hands. */
  ackPending: number;
  redelivered: number;
  /** Pull requests waiting for messages: the worker is idle and caught up. */
  waiting: number;
  deliveredSeq: number;
  ackFloorSeq: number;
}

export interface Report {
  server: string;
  streams: StreamRow[];
  consumers: ConsumerRow[];
  /** Parked events by subject (dlq.<service>.<channel>). */
  dlq: { total: number; bySubject: Record<string, number> };
  /** Event ids route remembers (KV bucket jetmesh_seen), absent before route first ran. */
  seenIds?: number;
}

const JETMESH_STREAMS = [INGEST_STREAM, EVENTS_STREAM, DLQ_STREAM];
/** route's partition durables (`route-<p>`, and the single `route` of old) and persist's. */
function isDurable(stream: string, name: string): boolean {
  return (stream === INGEST_STREAM && isRouteConsumer(name)) ||
    (stream === EVENTS_STREAM && name === PERSIST_CONSUMER);
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch {
    return undefined;
  }
}

function consumerRow(c: ConsumerInfo): ConsumerRow {
  return {
    stream: c.stream_name,
    name: c.name,
    durable: isDurable(c.stream_name, c.name),
    pending: c.num_pending,
    ackPending: c.num_ack_pending,
    redelivered: c.num_redelivered,
    waiting: c.num_waiting,
    deliveredSeq: c.delivered.stream_seq,
    ackFloorSeq: c.ack_floor.stream_seq,
  };
}

/**
 * Reads what an operator looks at first: stream sizes, consumer lag, what sits in DLQ. Changes
 * nothing.
 */
export async function inspect(jsm: JetStreamManager, server: string): Promise<Report> {
  const streams: StreamRow[] = [];
  const consumers: ConsumerRow[] = [];
  for (const name of JETMESH_STREAMS) {
    const si = await streamInfo(jsm, name);
    if (si === undefined) continue;
    streams.push({
      name,
      messages: si.state.messages,
      bytes: si.state.bytes,
      firstSeq: si.state.first_seq,
      lastSeq: si.state.last_seq,
      consumers: si.state.consumer_count,
      replicas: si.config.num_replicas,
      maxAgeMs: si.config.max_age / 1e6,
      created: si.created,
    });
    for await (const c of jsm.consumers.list(name)) consumers.push(consumerRow(c));
  }
  // Durables first, in pipeline order (the streams were read in that order; the sort is stable).
  consumers.sort((a, b) => Number(b.durable) - Number(a.durable));
  const dlq = await jsm.streams.info(DLQ_STREAM, { subjects_filter: ">" }).catch(() => undefined);
  const seen = await streamInfo(jsm, `KV_${SEEN_BUCKET}`);
  return {
    server,
    streams,
    consumers,
    dlq: { total: dlq?.state.messages ?? 0, bySubject: dlq?.state.subjects ?? {} },
    seenIds: seen?.state.messages,
  };
}

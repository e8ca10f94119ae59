import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { DLQ_REASON_HEADER } from "./headers.ts";

/** The three streams and their subject prefixes: the one place these strings are spelled. */
export const INGEST_STREAM = "INGEST";
export const EVENTS_STREAM = "EVENTS";
export const DLQ_STREAM = "DLQ";

export const INGEST_PREFIX = "ingest";
export const EVENTS_PREFIX = "events";
export const DLQ_PREFIX = "dlq";

/**
 * KV bucket of event ids route has already moved to EVENTS (key: the id,
 * base64url; value: the INGEST sequence that carried it first). It outlives
 * the duplicate windows, so a client retry long after them is still dropped.
 */
export const SEEN_BUCKET = "jetmesh_seen";

/** The decoder for the nats CLI's --translate (README "Inspect with the nats CLI"). */
export const BUS_DECODER = "bin/jetmesh-decode.mjs";

/**
 * Descriptions, shown by `nats stream ls`, `nats stream info` and `nats kv ls`
 * (README "Inspect with the nats CLI"): each says what the stream holds, on
 * which subjects, who reads it and how to read its payloads, for someone
 * who meets jetmesh through the CLI. Short, because `stream ls` prints them
 * in one table row.
 */
export const STREAM_DESCRIPTIONS = {
  [INGEST_STREAM]: `jetmesh: events accepted by ingest, read by route. ${INGEST_PREFIX}.<channel>, msgpack (${BUS_DECODER})`,
  [EVENTS_STREAM]: `jetmesh: routed events, read by persist and notify, replayed from cursors. ${EVENTS_PREFIX}.<channel>, msgpack (${BUS_DECODER})`,
  [DLQ_STREAM]: `jetmesh: events a service gave up on, why in ${DLQ_REASON_HEADER}; make replay-dlq. ${DLQ_PREFIX}.<service>.<channel>`,
} as const;
export const SEEN_BUCKET_DESCRIPTION = "jetmesh route: ids of events already moved to EVENTS, so late client retries are dropped (key: id, base64url)";

export function ingestSubject(channel: string): string {
  return `${INGEST_PREFIX}.${channel}`;
}

export function eventsSubject(channel: string): string {
  return `${EVENTS_PREFIX}.${channel}`;
}

/** Where a failing event is parked: `dlq.<service>.<channel>`. */
export function dlqSubject(service: string, channel: string): string {
  return `${DLQ_PREFIX}.${service}.${channel}`;
}

/** Channel from a subject under `prefix`, or undefined when the subject is not under it. */
export function channelOf(prefix: string, subject: string): string | undefined {
  return subject.startsWith(`${prefix}.`) ? subject.slice(prefix.length + 1) : undefined;
}

export interface StreamSettings {
  ingestDuplicateWindowMs: number;
  ingestMaxAgeMs: number;
  eventsDuplicateWindowMs: number;
  eventsMaxAgeMs: number;
  dlqMaxAgeMs: number;
  replicas: number;
}

type Config = Partial<StreamConfig> & { name: string; subjects: string[] };

function base(name: string, prefix: string, description: string, maxAgeMs: number, dupMs: number, replicas: number): Config {
  return {
    name,
    description,
    subjects: [`${prefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(maxAgeMs),
    // The duplicate window can never be longer than the stream keeps messages.
    duplicate_window: nanos(Math.min(dupMs, maxAgeMs)),
    num_replicas: replicas,
  };
}

export function streamConfigs(s: StreamSettings): Config[] {
  return [
    base(
      INGEST_STREAM,
      INGEST_PREFIX,
      STREAM_DESCRIPTIONS[INGEST_STREAM],
      s.ingestMaxAgeMs,
      s.ingestDuplicateWindowMs,
      s.replicas,
    ),
    base(
      EVENTS_STREAM,
      EVENTS_PREFIX,
      STREAM_DESCRIPTIONS[EVENTS_STREAM],
      s.eventsMaxAgeMs,
      s.eventsDuplicateWindowMs,
      s.replicas,
    ),
    base(
      DLQ_STREAM,
      DLQ_PREFIX,
      STREAM_DESCRIPTIONS[DLQ_STREAM],
      s.dlqMaxAgeMs,
      s.eventsDuplicateWindowMs,
      s.replicas,
    ),
  ];
}

import { DiscardPolicy, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { DLQ_REASON_HEADER } from "./headers.ts";
import { DEFAULT_PARTITIONS, PARTITIONS_METADATA_KEY } from "./partitions.ts";

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
const BUS_DECODER = "bin/jetmesh-decode.mjs";

/**
 * Descriptions, shown by `nats stream ls`, `nats stream info` and `nats kv ls`
 * (README "Inspect with the nats CLI"): each says what the stream holds, on
 * which subjects, who reads it and how to read its payloads, for someone
 * who meets jetmesh through the CLI. Short, because `stream ls` prints them
 * in one table row.
 */
export const STREAM_DESCRIPTIONS = {
  [INGEST_STREAM]:
    `jetmesh: events accepted by ingest, read by route. ${INGEST_PREFIX}.<partition>.<channel>, msgpack (${BUS_DECODER})`,
  [EVENTS_STREAM]:
    `jetmesh: routed events, read by persist and notify, replayed from cursors. ${EVENTS_PREFIX}.<channel>, msgpack (${BUS_DECODER})`,
  [DLQ_STREAM]:
    `jetmesh: events a service gave up on, why in ${DLQ_REASON_HEADER}; make replay-dlq. ${DLQ_PREFIX}.<service>.<channel>`,
} as const;
export const SEEN_BUCKET_DESCRIPTION =
  "jetmesh route: ids of events already moved to EVENTS, so late client retries are dropped (key: id, base64url)";

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
  ingestMaxBytes: number;
  eventsDuplicateWindowMs: number;
  eventsMaxAgeMs: number;
  eventsMaxBytes: number;
  dlqMaxAgeMs: number;
  dlqMaxBytes: number;
  replicas: number;
  /** P, the number of INGEST partitions (JETMESH_PARTITIONS); kept in INGEST's metadata. */
  partitions?: number;
}

type Config = Partial<StreamConfig> & { name: string; subjects: string[] };

interface Limits {
  maxAgeMs: number;
  maxBytes: number;
  duplicateWindowMs: number;
  /**
   * What a full stream does. DiscardNew refuses the publish, so the publisher
   * keeps the event and answers with an error; DiscardOld drops the oldest
   * message to make room, silently.
   */
  discard: DiscardPolicy;
}

function base(
  name: keyof typeof STREAM_DESCRIPTIONS,
  prefix: string,
  limits: Limits,
  replicas: number,
): Config {
  return {
    name,
    description: STREAM_DESCRIPTIONS[name],
    subjects: [`${prefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: limits.discard,
    max_age: nanos(limits.maxAgeMs),
    // Reserved up front in nats-server's JetStream storage, on every node with a replica.
    max_bytes: limits.maxBytes,
    // Dedupe (docs/dedupe.md): msgIDs seen within the window are dropped. It can never be longer
    // than the stream keeps messages.
    duplicate_window: nanos(Math.min(limits.duplicateWindowMs, limits.maxAgeMs)),
    num_replicas: replicas,
  };
}

/**
 * Why each stream discards as it does when it reaches max_bytes:
 *
 * - INGEST: DiscardNew. Its messages are accepted events route may not have
 *   moved yet; dropping the oldest would lose events a client holds an ack
 *   for. Refused, the publish fails and ingest answers `unavailable`
 *   ("stream full"), so the client still has the event and retries. The
 *   stream keeps routed messages too (limits retention) until INGEST_MAX_AGE,
 *   so INGEST_MAX_BYTES must hold INGEST_MAX_AGE of peak traffic.
 * - EVENTS: DiscardOld, as max_age already does. persist copies every event
 *   to PostgreSQL, where history and replay for older cursors come from; the
 *   stream is the recent window notify resumes from. DiscardNew would stop
 *   route, then ingest, for good once the window is full, since routed events
 *   stay until they age out. The cost: persist lagging by more than
 *   EVENTS_MAX_BYTES loses the oldest unpersisted events, as a lag past
 *   EVENTS_MAX_AGE does.
 * - DLQ: DiscardNew. A parked event exists nowhere else; a service that
 *   cannot park one keeps it unacknowledged on its own stream and retries.
 */
export function streamConfigs(s: StreamSettings): Config[] {
  return [
    {
      ...base(INGEST_STREAM, INGEST_PREFIX, {
        maxAgeMs: s.ingestMaxAgeMs,
        maxBytes: s.ingestMaxBytes,
        duplicateWindowMs: s.ingestDuplicateWindowMs,
        discard: DiscardPolicy.New,
      }, s.replicas),
      // The one place P lives (partitions.ts): ingest and route read it from here.
      metadata: { [PARTITIONS_METADATA_KEY]: String(s.partitions ?? DEFAULT_PARTITIONS) },
    },
    base(EVENTS_STREAM, EVENTS_PREFIX, {
      maxAgeMs: s.eventsMaxAgeMs,
      maxBytes: s.eventsMaxBytes,
      duplicateWindowMs: s.eventsDuplicateWindowMs,
      discard: DiscardPolicy.Old,
    }, s.replicas),
    base(DLQ_STREAM, DLQ_PREFIX, {
      maxAgeMs: s.dlqMaxAgeMs,
      maxBytes: s.dlqMaxBytes,
      duplicateWindowMs: s.eventsDuplicateWindowMs,
      discard: DiscardPolicy.New,
    }, s.replicas),
  ];
}

import { nanos } from "@nats-io/transport-node";
import { PRESENCE_BUCKET, PRESENCE_BUCKET_DESCRIPTION } from "./presence.ts";
import { SEEN_BUCKET, SEEN_BUCKET_DESCRIPTION } from "./streams.ts";

/**
 * Route's processing-rule checkpoints (internal/processing/checkpoint.ts): per
 * namespace and partition, the engine's state and the INGEST position it covers.
 */
export const CHECKPOINT_BUCKET = "jetmesh_processing";
export const CHECKPOINT_BUCKET_DESCRIPTION =
  "jetmesh route: processing-rule state per namespace and partition, with the INGEST position it covers";
/**
 * History 1: only the last manifest matters; older ones would only cost disk. No TTL: a
 * checkpoint is the only record of a window's state, however long its partition is quiet.
 */
export const CHECKPOINT_BUCKET_CONFIG = {
  history: 1,
  description: CHECKPOINT_BUCKET_DESCRIPTION,
} as const;

/**
 * The three KV buckets, as the migration creates them (internal/migrate). The
 * services only bind to them: their NATS users may not create or change the
 * streams behind a bucket (`KV_<bucket>`).
 */
export interface BucketConfig {
  bucket: string;
  /** The stream nats-server keeps the bucket in. */
  stream: string;
  /** How long an entry lives without being written again, in ms. */
  ttlMs: number;
  replicas: number;
  /**
   * route reads `jetmesh_seen` and `jetmesh_processing` with direct gets; presence has it too,
   * as nats.js created it before the migration existed.
   */
  allowDirect: boolean;
  description: string;
}

export interface BucketSettings {
  seenTtlMs: number;
  presenceTtlMs: number;
  replicas: number;
}

export function bucketStream(bucket: string): string {
  return `KV_${bucket}`;
}

export function bucketConfigs(s: BucketSettings): BucketConfig[] {
  return [
    {
      bucket: SEEN_BUCKET,
      stream: bucketStream(SEEN_BUCKET),
      ttlMs: s.seenTtlMs,
      replicas: s.replicas,
      allowDirect: true,
      description: SEEN_BUCKET_DESCRIPTION,
    },
    {
      bucket: PRESENCE_BUCKET,
      stream: bucketStream(PRESENCE_BUCKET),
      ttlMs: s.presenceTtlMs,
      replicas: s.replicas,
      allowDirect: true,
      description: PRESENCE_BUCKET_DESCRIPTION,
    },
    {
      bucket: CHECKPOINT_BUCKET,
      stream: bucketStream(CHECKPOINT_BUCKET),
      // Kept until overwritten (0: no max_age).
      ttlMs: 0,
      replicas: s.replicas,
      // Route reads manifests and chunks with direct gets, as it reads jetmesh_seen.
      allowDirect: true,
      description: CHECKPOINT_BUCKET_DESCRIPTION,
    },
  ];
}

/**
 * The stream settings a bucket's config decides (the rest is what nats.js's Kvm gives every
 * bucket).
 */
export function bucketStreamFields(
  b: BucketConfig,
): { max_age: number; num_replicas: number; allow_direct: boolean; description: string } {
  return {
    max_age: nanos(b.ttlMs),
    num_replicas: b.replicas,
    allow_direct: b.allowDirect,
    description: b.description,
  };
}

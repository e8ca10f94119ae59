import { nanos } from "@nats-io/transport-node";
import { PRESENCE_BUCKET, PRESENCE_BUCKET_DESCRIPTION } from "./presence.ts";
import { SEEN_BUCKET, SEEN_BUCKET_DESCRIPTION } from "./streams.ts";

/**
 * The two KV buckets, as the migration creates them (internal/migrate). The
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
   * route reads `jetmesh_seen` with direct gets; presence has it too, as nats.js created it
   * before the migration existed.
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

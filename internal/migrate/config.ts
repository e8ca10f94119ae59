import {
  type BucketSettings,
  DEFAULT_PARTITIONS,
  MAX_PARTITIONS,
  type StreamSettings,
} from "../../subjects/mod.ts";
import {
  type CommonConfig,
  type Env,
  EnvReader,
  readBucketSettings,
  readCommon,
  readStreamLimits,
} from "../config/mod.ts";

export interface MigrateConfig {
  /** NATS_URL and the admin user's NATS_USER / NATS_PASSWORD (or NATS_TOKEN). */
  common: CommonConfig;
  streams: StreamSettings;
  buckets: BucketSettings;
  /** How long to wait for NATS and for JetStream to answer (a cluster electing its leaders). */
  waitMs: number;
}

/**
 * The same variables, with the same defaults, as the services read them
 * (STREAM_REPLICAS, *_MAX_AGE, *_DUPLICATE_WINDOW, ROUTE_DEDUPE_TTL,
 * NOTIFY_PRESENCE_TTL): one environment for the migration and the services
 * gives the streams and buckets the services expect.
 */
export function readMigrateConfig(env: Env): MigrateConfig {
  const r = new EnvReader(env);
  const streams = {
    ...readStreamLimits(r),
    // Only the migration reads it: ingest and route take P from INGEST's metadata.
    partitions: r.int("JETMESH_PARTITIONS", DEFAULT_PARTITIONS, 1, MAX_PARTITIONS),
  };
  const cfg: MigrateConfig = {
    common: readCommon(r),
    streams,
    buckets: readBucketSettings(r, streams.replicas),
    waitMs: r.durationMs("MIGRATE_WAIT", "60s", 0),
  };
  r.done();
  return cfg;
}

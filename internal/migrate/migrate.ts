import {
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import {
  type BucketConfig,
  bucketConfigs,
  type BucketSettings,
  bucketStreamFields,
  INGEST_STREAM,
  streamConfigs,
  type StreamSettings,
} from "../../subjects/mod.ts";
import { checkPartitionChange, obsoleteRouteConsumers } from "./partitions.ts";
import { withRetry } from "../bus/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";

/** What the migration did to one stream or bucket. */
export interface Step {
  kind: "stream" | "bucket" | "consumer";
  name: string;
  action: "created" | "updated" | "unchanged" | "deleted";
  /** The settings that differed, for "updated". */
  changed?: string[];
}

export interface MigrateOptions {
  jsm: JetStreamManager;
  js: JetStreamClient;
  streams: StreamSettings;
  buckets: BucketSettings;
  log: Logger;
  /**
   * How long a JetStream that answers "try again" (503, timeouts: leaders being elected) is
   * retried.
   */
  retryMs?: number;
}

const STREAM_NOT_FOUND = 10059;
/**
 * nats-server reserves a stream's max_bytes up front and refuses what its JetStream storage
 * cannot hold.
 */
const INSUFFICIENT_RESOURCES = 10047;

function explainNoRoom(cfg: Partial<StreamConfig> & { name: string }) {
  return (err: unknown): never => {
    if (!(err instanceof JetStreamApiError && err.code === INSUFFICIENT_RESOURCES)) throw err;
    throw new JetmeshError(
      "bad_config",
      `stream ${cfg.name}: nats-server has no room for max_bytes=${cfg.max_bytes} (${err.message}); ` +
        "INGEST_MAX_BYTES + EVENTS_MAX_BYTES + DLQ_MAX_BYTES must fit its JetStream max_file_store on every node",
      { cause: err },
    );
  };
}

/**
 * The fields of `want` whose value differs on the server. Of `metadata` only
 * the keys jetmesh sets count: nats-server adds its own (`_nats.*`).
 */
function differences(have: Partial<StreamConfig>, want: Record<string, unknown>): string[] {
  const h = have as Record<string, unknown>;
  return Object.keys(want).filter((k) => {
    if (k === "metadata") {
      const w = (want[k] ?? {}) as Record<string, string>;
      const hm = (h[k] ?? {}) as Record<string, string>;
      return Object.keys(w).some((key) => hm[key] !== w[key]);
    }
    return JSON.stringify(h[k] ?? null) !== JSON.stringify(want[k] ?? null);
  });
}

async function current(jsm: JetStreamManager, name: string): Promise<StreamConfig | undefined> {
  try {
    return (await jsm.streams.info(name)).config;
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND) return undefined;
    throw err;
  }
}

/**
 * Creates the streams INGEST, EVENTS, DLQ and the KV buckets jetmesh_seen,
 * jetmesh_presence and jetmesh_processing, or brings existing ones to the configured settings.
 * Idempotent: a second run with the same settings changes nothing. Runs as the
 * NATS admin user: the services' users may not create or change streams.
 *
 * The durables `route` and `persist` are not made here: each service creates
 * its own (internal/bus ensureConsumer), with the ack wait and pending limit
 * it works by, and may touch no other consumer.
 */
export async function migrate(o: MigrateOptions): Promise<Step[]> {
  const steps: Step[] = [];
  const retry = <T>(fn: () => Promise<T>) => withRetry(fn, { deadlineMs: o.retryMs ?? 30_000 });
  const done = (s: Step) => {
    steps.push(s);
    o.log.info(`${s.kind} ${s.action}`, {
      [s.kind]: s.name,
      ...(s.changed ? { changed: s.changed } : {}),
    });
  };
  for (const cfg of streamConfigs(o.streams)) {
    const have = await retry(() => current(o.jsm, cfg.name));
    if (!have) {
      await retry(() => o.jsm.streams.add(cfg)).catch(explainNoRoom(cfg));
      done({ kind: "stream", name: cfg.name, action: "created" });
      continue;
    }
    const changed = differences(have, cfg);
    if (cfg.name === INGEST_STREAM) await checkPartitionChange(o, have, cfg, retry);
    if (changed.length > 0) {
      await retry(() => o.jsm.streams.update(cfg.name, cfg)).catch(explainNoRoom(cfg));
    }
    done({
      kind: "stream",
      name: cfg.name,
      action: changed.length > 0 ? "updated" : "unchanged",
      ...(changed.length > 0 ? { changed } : {}),
    });
  }
  for (const b of bucketConfigs(o.buckets)) done(await ensureBucket(o, b, retry));
  for (const name of await retry(() => obsoleteRouteConsumers(o))) {
    await retry(() => o.jsm.consumers.delete(INGEST_STREAM, name));
    done({ kind: "consumer", name, action: "deleted" });
  }
  return steps;
}

async function ensureBucket(
  o: MigrateOptions,
  b: BucketConfig,
  retry: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<Step> {
  const have = await retry(() => current(o.jsm, b.stream));
  if (!have) {
    // Kvm gives the stream every setting a KV bucket needs (subjects, rollups, one value per key).
    await retry(() =>
      new Kvm(o.js).create(b.bucket, {
        ttl: b.ttlMs,
        replicas: b.replicas,
        history: 1,
        allow_direct: b.allowDirect,
        description: b.description,
      })
    );
    return { kind: "bucket", name: b.bucket, action: "created" };
  }
  const want = bucketStreamFields(b);
  const changed = differences(have, want);
  if (changed.length === 0) return { kind: "bucket", name: b.bucket, action: "unchanged" };
  await retry(() => o.jsm.streams.update(b.stream, want));
  return { kind: "bucket", name: b.bucket, action: "updated", changed };
}

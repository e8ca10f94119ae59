import {
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StreamInfo,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import {
  bucketStream,
  INGEST_STREAM,
  PARTITIONS_METADATA_KEY,
  partitionsFromMetadata,
} from "../../subjects/mod.ts";
import { JetmeshError } from "../errors/mod.ts";

/** JetStream's error code for "stream not found". */
const STREAM_NOT_FOUND = 10059;

/** What to tell an operator when something the migration creates is missing. */
function runMigration(what: string, service: string): string {
  return `${what} does not exist: run the migration as the NATS admin user first (make migrate, or cmd/migrate with NATS_USER=admin) — ${service} may not create it`;
}

function isStreamNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND;
}

/**
 * Reads the info of each stream a service needs and fails with `not_migrated`
 * naming the first one missing. Services never create streams (their NATS
 * users may not): the migration does, as admin.
 */
export async function requireStreams(
  jsm: JetStreamManager,
  streams: readonly string[],
  service: string,
): Promise<StreamInfo[]> {
  const out: StreamInfo[] = [];
  for (const name of streams) {
    try {
      out.push(await jsm.streams.info(name));
    } catch (err) {
      if (isStreamNotFound(err)) {
        throw new JetmeshError("not_migrated", runMigration(`stream ${name}`, service), {
          cause: err,
        });
      }
      throw err;
    }
  }
  return out;
}

/**
 * Binds to a KV bucket the migration created, checking that it exists (a bare
 * bind does not: it would fail only at the first read or write).
 */
export async function openBucket(
  js: JetStreamClient,
  bucket: string,
  service: string,
): Promise<{ kv: KV; info: StreamInfo }> {
  const jsm = await js.jetstreamManager();
  const [info] = await requireStreams(jsm, [bucketStream(bucket)], service).catch(
    (err: unknown) => {
      if (err instanceof JetmeshError) {
        throw new JetmeshError("not_migrated", runMigration(`KV bucket ${bucket}`, service), {
          cause: err.cause,
        });
      }
      throw err;
    },
  );
  const kv = await new Kvm(js).open(bucket, { allow_direct: info.config.allow_direct });
  return { kv, info };
}

/**
 * P, the number of INGEST partitions, from the stream's metadata where the
 * migration keeps it (subjects/partitions.ts). Read once at start by ingest
 * and route: both hash a channel with the same P, and neither has a setting of
 * its own that could disagree. An INGEST without it was made before partitions:
 * the migration has to run.
 */
export async function requirePartitions(jsm: JetStreamManager, service: string): Promise<number> {
  const [info] = await requireStreams(jsm, [INGEST_STREAM], service);
  const p = partitionsFromMetadata(info.config.metadata);
  if (p === undefined) {
    throw new JetmeshError(
      "not_migrated",
      runMigration(`metadata ${PARTITIONS_METADATA_KEY} on stream ${INGEST_STREAM}`, service),
    );
  }
  return p;
}

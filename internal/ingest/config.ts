import { type EdgeConfig, readEdgeConfig } from "../edge/mod.ts";
import {
  type Env,
  EnvReader,
  type ListenConfig,
  readOpsListen,
  readServiceBase,
  type ServiceBase,
} from "../config/mod.ts";

/** Where it listens unless told otherwise; the dev tooling's catalog (devkit/catalog.ts) reads these too. */
export const INGEST_DEFAULT_PORTS = { port: 8080, ops: 9090 } as const;

export interface IngestConfig extends ServiceBase {
  /** Who may connect and do what: tokens, namespaces, origins. */
  edge: EdgeConfig;
  /** /healthz, /readyz and /metrics, apart from the public port. */
  ops: ListenConfig;
  /** Largest accepted frame or event, in bytes. */
  maxFrameBytes: number;
  /** Largest HTTP body, in bytes. */
  maxBodyBytes: number;
  /** Events in a single HTTP publish. */
  maxBatch: number;
  /**
   * Publishes awaiting JetStream per WebSocket connection before new ones are refused with
   * `overloaded`.
   */
  maxInflightPerConnection: number;
  /** How long ingest retries a publish before answering `unavailable`. */
  publishTimeoutMs: number;
  /**
   * Answers waiting to be written to one WebSocket above which the client is
   * closed as a slow consumer (4008): a client that never reads cannot make
   * ingest hold its acks without bound.
   */
  maxBufferedBytes: number;
}

export function readIngestConfig(env: Env): IngestConfig {
  const r = new EnvReader(env);
  const base = readServiceBase(r, "INGEST", INGEST_DEFAULT_PORTS.port);
  const cfg: IngestConfig = {
    ...base,
    ops: readOpsListen(r, "INGEST", INGEST_DEFAULT_PORTS.ops, base.listen),
    edge: readEdgeConfig(r),
    maxFrameBytes: r.int("INGEST_MAX_FRAME_BYTES", 64 * 1024, 256, 8 * 1024 * 1024),
    maxBodyBytes: r.int("INGEST_MAX_BODY_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxBatch: r.int("INGEST_MAX_BATCH", 1000, 1, 100_000),
    maxInflightPerConnection: r.int("INGEST_MAX_INFLIGHT", 1024, 1, 1_000_000),
    publishTimeoutMs: r.durationMs("INGEST_PUBLISH_TIMEOUT", "5s", 100),
    maxBufferedBytes: r.int("INGEST_MAX_BUFFERED_BYTES", 1024 * 1024, 64 * 1024, 256 * 1024 * 1024),
  };
  r.done();
  return cfg;
}

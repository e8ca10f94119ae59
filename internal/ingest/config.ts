import { type EdgeConfig, readEdgeConfig } from "../edge/mod.ts";
import { type Env, EnvReader, type ListenConfig, readOpsListen, readServiceBase, type ServiceBase } from "../config/mod.ts";
import { isPublisher } from "../../subjects/mod.ts";

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
  /** Publishes awaiting JetStream per WebSocket connection before new ones are refused with `overloaded`. */
  maxInflightPerConnection: number;
  /** How long ingest retries a publish before answering `unavailable`. */
  publishTimeoutMs: number;
  /** Token → publisher. Empty: anonymous mode, the publisher is whatever the client names. */
  tokens: Map<string, string>;
}

export function readIngestConfig(env: Env): IngestConfig {
  const r = new EnvReader(env);
  const tokens = new Map<string, string>();
  for (const pair of r.list("INGEST_TOKENS", [])) {
    const [token, publisher] = pair.split("=", 2);
    r.check("INGEST_TOKENS", Boolean(token) && isPublisher(publisher), "comma-separated token=publisher pairs, publisher [A-Za-z0-9_-]{1,64}");
    if (token && isPublisher(publisher)) tokens.set(token, publisher);
  }
  const base = readServiceBase(r, "INGEST", 8080);
  const cfg: IngestConfig = {
    ...base,
    ops: readOpsListen(r, "INGEST", 9090, base.listen),
    edge: readEdgeConfig(r),
    maxFrameBytes: r.int("INGEST_MAX_FRAME_BYTES", 64 * 1024, 256, 8 * 1024 * 1024),
    maxBodyBytes: r.int("INGEST_MAX_BODY_BYTES", 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxBatch: r.int("INGEST_MAX_BATCH", 1000, 1, 100_000),
    maxInflightPerConnection: r.int("INGEST_MAX_INFLIGHT", 1024, 1, 1_000_000),
    publishTimeoutMs: r.durationMs("INGEST_PUBLISH_TIMEOUT", "5s", 100),
    tokens,
  };
  r.done();
  return cfg;
}

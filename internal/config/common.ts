import { isLevel, type Level } from "../log/mod.ts";
import type { BucketSettings, StreamSettings } from "../../subjects/mod.ts";
import type { EnvReader } from "./env.ts";
import { readTelemetry, type TelemetryConfig } from "./telemetry.ts";

/**
 * How a service proves who it is to nats-server; each service has its own user in
 * infra/nats/users.conf.
 */
export type NatsAuth = { user: string; pass: string } | { token: string };

export interface NatsConfig {
  servers: string[];
  /** Absent: connect without credentials (a server with no authorization block). */
  auth?: NatsAuth;
}

/** Settings every service shares: where NATS and the log go. */
export interface CommonConfig {
  nats: NatsConfig;
  logLevel: Level;
}

function readNatsAuth(r: EnvReader): NatsAuth | undefined {
  const user = r.optional("NATS_USER");
  const pass = r.optional("NATS_PASSWORD");
  const token = r.optional("NATS_TOKEN");
  r.check(
    "NATS_TOKEN",
    token === undefined || user === undefined,
    "either NATS_TOKEN or NATS_USER/NATS_PASSWORD, not both",
  );
  r.check(
    "NATS_PASSWORD",
    (user === undefined) === (pass === undefined),
    "set together with NATS_USER",
  );
  if (user !== undefined && pass !== undefined) return { user, pass };
  return token === undefined ? undefined : { token };
}

export function readCommon(r: EnvReader): CommonConfig {
  const servers = r.list("NATS_URL", ["nats://127.0.0.1:4222"]);
  r.check(
    "NATS_URL",
    servers.every((u) => /^(nats|tls|wss?):\/\/[^\s]+$/.test(u)),
    "comma-separated nats:// URLs",
  );
  const level = r.string("LOG_LEVEL", "info");
  r.check("LOG_LEVEL", isLevel(level), "one of debug, info, warn, error");
  return { nats: { servers, auth: readNatsAuth(r) }, logLevel: isLevel(level) ? level : "info" };
}

/**
 * nats-server reserves every stream's max_bytes of its JetStream storage up
 * front, and refuses a stream that does not fit: the defaults (7 GiB in all)
 * fit the 10GB max_file_store of infra/nats and infra/compose, with room for
 * the KV buckets.
 */
const GIB = 1024 ** 3;
/** Floor of the *_MAX_BYTES variables: tests fill a stream with a few KiB; production wants GiB. */
const MIN_STREAM_BYTES = 1024;

/**
 * Stream settings. The migration (cmd/migrate) creates the streams with them;
 * the services read them too, for the values they use themselves (replicas).
 */
export function readStreamLimits(r: EnvReader): StreamSettings {
  return {
    ingestDuplicateWindowMs: r.durationMs("INGEST_DUPLICATE_WINDOW", "2m", 100),
    ingestMaxAgeMs: r.durationMs("INGEST_MAX_AGE", "24h", 1000),
    ingestMaxBytes: r.int("INGEST_MAX_BYTES", GIB, MIN_STREAM_BYTES),
    // The dedupe horizon (docs/dedupe.md): route republishes under the event id, so EVENTS
    // dropping a msgID it saw within the window is what keeps a redelivered or late-retried
    // event from being routed twice.
    eventsDuplicateWindowMs: readDedupeTtlMs(r),
    eventsMaxAgeMs: r.durationMs("EVENTS_MAX_AGE", "7d", 1000),
    eventsMaxBytes: r.int("EVENTS_MAX_BYTES", 5 * GIB, MIN_STREAM_BYTES),
    dlqMaxAgeMs: r.durationMs("DLQ_MAX_AGE", "30d", 1000),
    dlqMaxBytes: r.int("DLQ_MAX_BYTES", GIB, MIN_STREAM_BYTES),
    replicas: r.int("STREAM_REPLICAS", 1, 1, 5),
  };
}

/**
 * How long a routed event id is remembered: EVENTS' duplicate window, and the TTL of the
 * `jetmesh_seen` bucket that namespaces with rules use. One hour by default: nats-server holds
 * every msgID of the window in memory (about 232 B each, docs/scaling.md), so it grows with
 * rate × TTL; an hour covers a durable's lost acks many times over, and is the horizon for a
 * client's late retry (docs/dedupe.md).
 */
export function readDedupeTtlMs(r: EnvReader): number {
  return r.durationMs("ROUTE_DEDUPE_TTL", "1h", 1000);
}

/** How long a presence entry lives without a refresh: the TTL of the `jetmesh_presence` bucket. */
export function readPresenceTtlMs(r: EnvReader): number {
  return r.durationMs("NOTIFY_PRESENCE_TTL", "15s", 1000);
}

/** The KV buckets' settings, read from the same variables route and notify read. */
export function readBucketSettings(r: EnvReader, replicas: number): BucketSettings {
  return { seenTtlMs: readDedupeTtlMs(r), presenceTtlMs: readPresenceTtlMs(r), replicas };
}

export interface DatabaseConfig {
  url: string;
  schema: string;
  poolMax: number;
}

export function readDatabase(r: EnvReader): DatabaseConfig {
  const url = r.string("DATABASE_URL", "postgres://127.0.0.1:5432/jetmesh");
  r.check("DATABASE_URL", /^postgres(ql)?:\/\//.test(url), "a postgres:// URL");
  const schema = r.string("DATABASE_SCHEMA", "jetmesh");
  r.check("DATABASE_SCHEMA", /^[a-z_][a-z0-9_]{0,62}$/.test(schema), "a lower-case SQL identifier");
  return { url, schema, poolMax: r.int("DATABASE_POOL_MAX", 10, 1, 1000) };
}

export interface ListenConfig {
  host: string;
  port: number;
}

export function readListen(r: EnvReader, prefix: string, defaultPort: number): ListenConfig {
  return {
    host: r.string(`${prefix}_HOST`, "0.0.0.0"),
    port: r.int(`${prefix}_PORT`, defaultPort, 0, 65535),
  };
}

/**
 * Where an edge (ingest, notify) serves /healthz, /readyz and /metrics: a port
 * of its own, never exposed publicly. The host defaults to the service's, so
 * the kubelet's probes and Prometheus reach it from outside the pod.
 */
export function readOpsListen(
  r: EnvReader,
  prefix: string,
  defaultPort: number,
  service: ListenConfig,
): ListenConfig {
  const ops = {
    host: r.string(`${prefix}_OPS_HOST`, service.host),
    port: r.int(`${prefix}_OPS_PORT`, defaultPort, 0, 65535),
  };
  r.check(
    `${prefix}_OPS_PORT`,
    ops.port === 0 || ops.port !== service.port,
    `a port other than ${prefix}_PORT=${service.port} (unset: ${defaultPort})`,
  );
  return ops;
}

/**
 * What every service reads: NATS and logs, stream settings, where it listens, where its traces
 * go.
 */
export interface ServiceBase {
  common: CommonConfig;
  streams: StreamSettings;
  listen: ListenConfig;
  telemetry: TelemetryConfig;
}

export function readServiceBase(r: EnvReader, prefix: string, defaultPort: number): ServiceBase {
  return {
    common: readCommon(r),
    streams: readStreamLimits(r),
    listen: readListen(r, prefix, defaultPort),
    telemetry: readTelemetry(r),
  };
}

import { isLevel, type Level } from "../log/mod.ts";
import type { StreamSettings } from "../../subjects/mod.ts";
import type { EnvReader } from "./env.ts";

/** Settings every service shares: where NATS and the log go. */
export interface CommonConfig {
  natsServers: string[];
  logLevel: Level;
}

export function readCommon(r: EnvReader): CommonConfig {
  const natsServers = r.list("NATS_URL", ["nats://127.0.0.1:4222"]);
  r.check("NATS_URL", natsServers.every((u) => /^(nats|tls|wss?):\/\/[^\s]+$/.test(u)), "comma-separated nats:// URLs");
  const level = r.string("LOG_LEVEL", "info");
  r.check("LOG_LEVEL", isLevel(level), "one of debug, info, warn, error");
  return { natsServers, logLevel: isLevel(level) ? level : "info" };
}

/** Stream settings; every service reads them so whichever starts first creates the same streams. */
export function readStreamLimits(r: EnvReader): StreamSettings {
  return {
    ingestDuplicateWindowMs: r.durationMs("INGEST_DUPLICATE_WINDOW", "2m", 100),
    ingestMaxAgeMs: r.durationMs("INGEST_MAX_AGE", "24h", 1000),
    eventsDuplicateWindowMs: r.durationMs("EVENTS_DUPLICATE_WINDOW", "2m", 100),
    eventsMaxAgeMs: r.durationMs("EVENTS_MAX_AGE", "7d", 1000),
    dlqMaxAgeMs: r.durationMs("DLQ_MAX_AGE", "30d", 1000),
    replicas: r.int("STREAM_REPLICAS", 1, 1, 5),
  };
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

/** What every service reads: NATS and logs, stream settings, and where it listens. */
export interface ServiceBase {
  common: CommonConfig;
  streams: StreamSettings;
  listen: ListenConfig;
}

export function readServiceBase(r: EnvReader, prefix: string, defaultPort: number): ServiceBase {
  return { common: readCommon(r), streams: readStreamLimits(r), listen: readListen(r, prefix, defaultPort) };
}

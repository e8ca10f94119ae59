export { type Env, EnvReader, parseDuration } from "./env.ts";
export { readTelemetry, type TelemetryConfig, type TraceExporter } from "./telemetry.ts";
export {
  type CommonConfig,
  type DatabaseConfig,
  type ListenConfig,
  type NatsAuth,
  type NatsConfig,
  readBucketSettings,
  readCommon,
  readDatabase,
  readDedupeTtlMs,
  readListen,
  readOpsListen,
  readPresenceTtlMs,
  readServiceBase,
  readStreamLimits,
  type ServiceBase,
} from "./common.ts";

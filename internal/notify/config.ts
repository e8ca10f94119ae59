import { type DatabaseConfig, type Env, EnvReader, readDatabase, readServiceBase, type ServiceBase } from "../config/mod.ts";

export interface NotifyConfig extends ServiceBase {
  database: DatabaseConfig;
  /** Largest accepted subscriber frame. */
  maxFrameBytes: number;
  maxSubscriptionsPerConnection: number;
  /** Bytes queued to one subscriber before its subscriptions wait for the socket to drain. */
  maxBufferedBytes: number;
  /** Largest page of history. */
  maxHistoryLimit: number;
}

export function readNotifyConfig(env: Env): NotifyConfig {
  const r = new EnvReader(env);
  const cfg: NotifyConfig = {
    ...readServiceBase(r, "NOTIFY", 8081),
    database: readDatabase(r),
    maxFrameBytes: r.int("NOTIFY_MAX_FRAME_BYTES", 16 * 1024, 256, 1024 * 1024),
    maxSubscriptionsPerConnection: r.int("NOTIFY_MAX_SUBSCRIPTIONS", 100, 1, 100_000),
    maxBufferedBytes: r.int("NOTIFY_MAX_BUFFERED_BYTES", 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxHistoryLimit: r.int("NOTIFY_MAX_HISTORY_LIMIT", 1000, 1, 100_000),
  };
  r.done();
  return cfg;
}

import {
  type DatabaseConfig,
  type Env,
  EnvReader,
  readDatabase,
  readServiceBase,
  type ServiceBase,
} from "../config/mod.ts";

/** Where it listens (its /healthz and /metrics too) unless told otherwise; devkit/catalog.ts reads it. */
export const PERSIST_DEFAULT_PORT = 8083;

export interface PersistConfig extends ServiceBase {
  database: DatabaseConfig;
  ackWaitMs: number;
  maxAckPending: number;
  /** Rows per INSERT. */
  maxBatch: number;
  /** Attempts at a row the database rejects before it goes to DLQ. */
  maxAttempts: number;
  /** How long a batch that is not full waits for more events before its commit. */
  lingerMs: number;
}

export function readPersistConfig(env: Env): PersistConfig {
  const r = new EnvReader(env);
  const cfg: PersistConfig = {
    ...readServiceBase(r, "PERSIST", PERSIST_DEFAULT_PORT),
    database: readDatabase(r),
    ackWaitMs: r.durationMs("PERSIST_ACK_WAIT", "30s", 1000),
    maxAckPending: r.int("PERSIST_MAX_ACK_PENDING", 8192, 1, 1_000_000),
    maxBatch: r.int("PERSIST_MAX_BATCH", 1000, 1, 5000),
    maxAttempts: r.int("PERSIST_MAX_ATTEMPTS", 3, 1, 100),
    lingerMs: r.durationMs("PERSIST_LINGER", "10ms", 0),
  };
  r.check(
    "PERSIST_MAX_ACK_PENDING",
    cfg.maxAckPending >= cfg.maxBatch * 2,
    "at least twice PERSIST_MAX_BATCH",
  );
  r.done();
  return cfg;
}

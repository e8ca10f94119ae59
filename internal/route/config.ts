import {
  type Env,
  EnvReader,
  readDedupeTtlMs,
  readServiceBase,
  type ServiceBase,
} from "../config/mod.ts";

/** Where it listens (its /healthz and /metrics too) unless told otherwise; devkit/catalog.ts reads it. */
export const ROUTE_DEFAULT_PORT = 8082;

export interface RouteConfig extends ServiceBase {
  ackWaitMs: number;
  /** Events taken from INGEST and not yet acked; bounds memory and work in flight. */
  maxAckPending: number;
  maxBatch: number;
  /** Attempts at the routing step before an event goes to DLQ. */
  maxAttempts: number;
  /**
   * How long route remembers an event id to drop late client retries (past the duplicate
   * windows).
   */
  dedupeTtlMs: number;
}

export function readRouteConfig(env: Env): RouteConfig {
  const r = new EnvReader(env);
  const cfg: RouteConfig = {
    ...readServiceBase(r, "ROUTE", ROUTE_DEFAULT_PORT),
    ackWaitMs: r.durationMs("ROUTE_ACK_WAIT", "10s", 1000),
    maxAckPending: r.int("ROUTE_MAX_ACK_PENDING", 4096, 1, 1_000_000),
    maxBatch: r.int("ROUTE_MAX_BATCH", 256, 1, 10_000),
    maxAttempts: r.int("ROUTE_MAX_ATTEMPTS", 3, 1, 100),
    dedupeTtlMs: readDedupeTtlMs(r),
  };
  r.done();
  return cfg;
}

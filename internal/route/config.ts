import {
  type Env,
  EnvReader,
  readDedupeTtlMs,
  readServiceBase,
  type ServiceBase,
} from "../config/mod.ts";
import { type NamespacesConfig, readNamespaces } from "../namespaces/mod.ts";

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
  /**
   * ROUTE_PIN_TIMEOUT, the partitions' `priority_timeout`: how long a replica
   * may go without pulling before the server gives its partitions to another
   * replica. That is the failover time after a crash. It is at least
   * ROUTE_ACK_WAIT + 5 s (the default): a replica that takes over a partition
   * with events the previous holder left unacked waits for them to come back
   * (one ack wait, plus the 2 s a pull stays open) before it relays anything,
   * and must keep the pin while it waits. So a shorter failover is bought by a
   * shorter ROUTE_ACK_WAIT, whose cost is more redeliveries when relaying is
   * slow.
   */
  pinTimeoutMs: number;
  /**
   * JETMESH_NAMESPACES, the file ingest and notify read: route runs its processing rules and
   * watches it for changes. Undefined: no rules.
   */
  namespacesFile: string | undefined;
  /** Its contents at start; a file that does not parse or compile refuses the start. */
  namespaces: NamespacesConfig;
  /**
   * ROUTE_CHECKPOINT_INTERVAL: how often each partition's processing state is saved (also every
   * 10 000 events). A crash replays what came after; keep it well under EVENTS' 2-minute
   * duplicate window.
   */
  checkpointEveryMs: number;
}

/** What the pin timeout must exceed ROUTE_ACK_WAIT by (see `pinTimeoutMs`). */
export const PIN_TIMEOUT_MARGIN_MS = 5000;

export function readRouteConfig(env: Env): RouteConfig {
  const r = new EnvReader(env);
  const ackWaitMs = r.durationMs("ROUTE_ACK_WAIT", "10s", 1000);
  const minPin = ackWaitMs + PIN_TIMEOUT_MARGIN_MS;
  const cfg: RouteConfig = {
    ...readServiceBase(r, "ROUTE", ROUTE_DEFAULT_PORT),
    ackWaitMs,
    pinTimeoutMs: r.durationMs("ROUTE_PIN_TIMEOUT", `${minPin}ms`, minPin),
    maxAckPending: r.int("ROUTE_MAX_ACK_PENDING", 4096, 1, 1_000_000),
    maxBatch: r.int("ROUTE_MAX_BATCH", 256, 1, 10_000),
    maxAttempts: r.int("ROUTE_MAX_ATTEMPTS", 3, 1, 100),
    dedupeTtlMs: readDedupeTtlMs(r),
    namespacesFile: r.optional("JETMESH_NAMESPACES"),
    namespaces: readNamespaces(r),
    checkpointEveryMs: r.durationMs("ROUTE_CHECKPOINT_INTERVAL", "10s", 100),
  };
  r.done();
  return cfg;
}

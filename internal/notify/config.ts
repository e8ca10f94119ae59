import { type EdgeConfig, readEdgeConfig } from "../edge/mod.ts";
import {
  type DatabaseConfig,
  type Env,
  EnvReader,
  type ListenConfig,
  readDatabase,
  readOpsListen,
  readPresenceTtlMs,
  readServiceBase,
  type ServiceBase,
} from "../config/mod.ts";
import { type DemoConfig, readDemoConfig } from "./demo-config.ts";

/** Where it listens unless told otherwise; the dev tooling's catalog (devkit/catalog.ts) reads these too. */
export const NOTIFY_DEFAULT_PORTS = { port: 8081, ops: 9091 } as const;

export interface NotifyConfig extends ServiceBase {
  /** Who may connect and do what: tokens, namespaces, origins. */
  edge: EdgeConfig;
  /** /healthz, /readyz and /metrics, apart from the public port. */
  ops: ListenConfig;
  database: DatabaseConfig;
  /** Largest accepted subscriber frame. */
  maxFrameBytes: number;
  /** Subscriptions per connection; also the limit on joined and on watched channels. */
  maxSubscriptionsPerConnection: number;
  /** WebSocket connections this process accepts at once; upgrades beyond are refused with 503. */
  maxConnections: number;
  /** Bytes queued to one subscriber before its subscriptions wait for the socket to drain. */
  maxBufferedBytes: number;
  /** Bytes queued to one subscriber past which it is disconnected as a slow consumer. */
  disconnectBufferedBytes: number;
  /** How long a subscriber may stay paused before it is disconnected as a slow consumer. */
  maxPauseMs: number;
  /**
   * How long a presence entry lives without a refresh (a crashed notify's members vanish after
   * this).
   */
  presenceTtlMs: number;
  /** Largest page of history. */
  maxHistoryLimit: number;
  /** The chat page at `/`: where it publishes, and the development token endpoint. */
  demo: DemoConfig;
}

export function readNotifyConfig(env: Env): NotifyConfig {
  const r = new EnvReader(env);
  const maxBufferedBytes = r.int(
    "NOTIFY_MAX_BUFFERED_BYTES",
    1024 * 1024,
    1024,
    1024 * 1024 * 1024,
  );
  const base = readServiceBase(r, "NOTIFY", NOTIFY_DEFAULT_PORTS.port);
  const edge = readEdgeConfig(r);
  const cfg: NotifyConfig = {
    ...base,
    ops: readOpsListen(r, "NOTIFY", NOTIFY_DEFAULT_PORTS.ops, base.listen),
    edge,
    database: readDatabase(r),
    maxFrameBytes: r.int("NOTIFY_MAX_FRAME_BYTES", 16 * 1024, 256, 1024 * 1024),
    maxSubscriptionsPerConnection: r.int("NOTIFY_MAX_SUBSCRIPTIONS", 100, 1, 100_000),
    maxConnections: r.int("NOTIFY_MAX_CONNECTIONS", 10_000, 1, 10_000_000),
    maxBufferedBytes,
    disconnectBufferedBytes: r.int(
      "NOTIFY_DISCONNECT_BUFFERED_BYTES",
      16 * 1024 * 1024,
      2048,
      4 * 1024 * 1024 * 1024,
    ),
    maxPauseMs: r.durationMs("NOTIFY_MAX_PAUSE", "30s", 100),
    presenceTtlMs: readPresenceTtlMs(r),
    maxHistoryLimit: r.int("NOTIFY_MAX_HISTORY_LIMIT", 1000, 1, 100_000),
    demo: readDemoConfig(r, edge.auth),
  };
  // Subscriptions must pause before the connection is cut, or every burst would disconnect.
  r.check(
    "NOTIFY_DISCONNECT_BUFFERED_BYTES",
    cfg.disconnectBufferedBytes > maxBufferedBytes,
    "more than NOTIFY_MAX_BUFFERED_BYTES",
  );
  r.done();
  return cfg;
}

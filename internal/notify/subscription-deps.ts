import type { JetStreamClient } from "@nats-io/jetstream";
import type { Encoding } from "../codec/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Store } from "../store/mod.ts";
import type { Tracing } from "../telemetry/mod.ts";
import type { SendResult } from "../wsserver/mod.ts";
import type { Hub } from "./hub.ts";
import type { NotifyMetrics } from "./metrics.ts";

/** Where a subscription's events go: its connection's outbox. */
export interface EventSink {
  /** Sends frames encoded in `enc` in order, as one write where the server allows. */
  sendEncoded(frames: ReadonlyArray<string | Uint8Array>, enc: Encoding): SendResult;
  /** Resolves once the connection's send buffer is below its limit again (or it closed). */
  writable(): Promise<void>;
}

/**
 * What a subscription uses of the process, each narrowed to the calls it makes, so the unit
 * tests can hand it fakes instead of NATS and PostgreSQL.
 */
export interface SubscriptionDeps {
  js: Pick<JetStreamClient, "consumers">;
  /** The process's shared consumer. */
  hub: Pick<Hub, "epoch" | "maxAgeMs" | "position" | "add" | "remove" | "flushSoon">;
  store: Pick<Store, "replay">;
  /** The EVENTS stream's first sequence now. */
  firstSeq: () => Promise<number>;
  log: Logger;
  metrics: Pick<NotifyMetrics, "received" | "delivered" | "publishToDeliver">;
  /** Set when tracing is on. */
  tracing?: Tracing;
}

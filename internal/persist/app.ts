import {
  DLQ_STREAM,
  EVENTS_STREAM,
  PERSIST_CONSUMER,
  persistConsumer,
} from "../../subjects/mod.ts";
import { busChecks, consumeBatches, durableOpener, openBus, streamEpoch } from "../bus/mod.ts";
import { opsRoutes, startOpsServer } from "../httpapi/mod.ts";
import type { RunningService } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import { consumerLag, createRegistry, natsConnected, streamMessages } from "../metrics/mod.ts";
import { openStore } from "../store/mod.ts";
import { startTracing } from "../telemetry/mod.ts";
import type { PersistConfig } from "./config.ts";
import { persistMetrics } from "./metrics.ts";
import { BatchWriter } from "./writer.ts";

export async function startPersist(cfg: PersistConfig, log: Logger): Promise<RunningService> {
  const tracing = await startTracing("persist", cfg.telemetry, log);
  const store = openStore(cfg.database, log);
  await store.migrate();
  const streams = [EVENTS_STREAM, DLQ_STREAM];
  const bus = await openBus(cfg.common.nats, "persist", streams, log);
  const openConsumer = durableOpener(
    bus,
    persistConsumer({ ackWaitMs: cfg.ackWaitMs, maxAckPending: cfg.maxAckPending }),
    log,
  );
  const consumer = await openConsumer();
  const epoch = await streamEpoch(bus.jsm, EVENTS_STREAM);
  const registry = createRegistry("persist");
  natsConnected(registry, bus.connected);
  consumerLag(registry, bus.jsm, EVENTS_STREAM, PERSIST_CONSUMER);
  streamMessages(registry, bus.jsm, streams);
  const abort = new AbortController();
  const pulling = new AbortController();
  const writer = new BatchWriter({
    store,
    js: bus.js,
    epoch,
    log,
    signal: abort.signal,
    maxAttempts: cfg.maxAttempts,
    metrics: persistMetrics(registry),
    tracing,
  });
  const loop = consumeBatches(
    consumer,
    {
      maxBatch: cfg.maxBatch,
      signal: pulling.signal,
      log,
      reopen: openConsumer,
      lingerMs: cfg.lingerMs,
    },
    (batch) => writer.write(batch),
  );
  loop.catch((err) => log.error("persist consumer stopped", { err }));
  const checks = { ...busChecks(bus, streams), database: () => store.ping() };
  const server = await startOpsServer(cfg.listen, opsRoutes("persist", registry, checks));
  log.info("persist running", { consumer: PERSIST_CONSUMER, epoch, health_port: server.port });
  return {
    port: server.port,
    opsPort: server.port,
    async stop() {
      // The loop commits and acks the batch in hand before it ends.
      pulling.abort();
      await loop.catch(() => {});
      abort.abort();
      await server.close();
      await bus.nc.drain();
      await store.close();
      await tracing?.shutdown();
    },
  };
}

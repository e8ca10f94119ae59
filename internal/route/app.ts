import {
  DLQ_STREAM,
  EVENTS_STREAM,
  INGEST_STREAM,
  ROUTE_CONSUMER,
  routeConsumer,
} from "../../subjects/mod.ts";
import {
  busChecks,
  consumeBatches,
  durableOpener,
  inboxPrefix,
  onReconnect,
  openBus,
  PipelinedPublisher,
  sleep,
} from "../bus/mod.ts";
import { opsRoutes, startOpsServer } from "../httpapi/mod.ts";
import type { RunningService } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import { consumerLag, createRegistry, natsConnected, streamMessages } from "../metrics/mod.ts";
import { startTracing } from "../telemetry/mod.ts";
import type { RouteConfig } from "./config.ts";
import { routeMetrics } from "./metrics.ts";
import { defaultRoute, Relay, type RouteStep } from "./relay.ts";
import { SeenIds } from "./seen.ts";

/** `step` is the routing step; tests pass one that fails on purpose. */
export async function startRoute(
  cfg: RouteConfig,
  log: Logger,
  step: RouteStep = defaultRoute,
): Promise<RunningService> {
  const tracing = await startTracing("route", cfg.telemetry, log);
  const streams = [INGEST_STREAM, EVENTS_STREAM, DLQ_STREAM];
  const bus = await openBus(cfg.common.nats, "route", streams, log);
  // Before anything is pulled: a missing bucket must stop the start, not the first event.
  const pub = new PipelinedPublisher(bus.nc, inboxPrefix("route"));
  const seen = await SeenIds.open(bus.js, pub, cfg.dedupeTtlMs, log).catch(async (err) => {
    await bus.nc.close();
    throw err;
  });
  const openConsumer = durableOpener(
    bus,
    routeConsumer({ ackWaitMs: cfg.ackWaitMs, maxAckPending: cfg.maxAckPending }),
    log,
  );
  const consumer = await openConsumer();
  const registry = createRegistry("route");
  natsConnected(registry, bus.connected);
  consumerLag(registry, bus.jsm, INGEST_STREAM, ROUTE_CONSUMER);
  streamMessages(registry, bus.jsm, streams);
  // The operations routes answer from here on: alive (and reporting lag) during the wait below.
  const server = await startOpsServer(
    cfg.listen,
    opsRoutes("route", registry, busChecks(bus, streams)),
  );
  // Events a crashed instance left unacked come back only after ack_wait; relaying newer events
  // first would put them behind their successors. Waiting one ack_wait keeps every channel in
  // order.
  const held = (await consumer.info()).num_ack_pending;
  if (held > 0) {
    log.warn("waiting one ack wait for events a previous instance left unacked", {
      held,
      wait_ms: cfg.ackWaitMs,
    });
    await sleep(cfg.ackWaitMs + 1000);
  }
  const abort = new AbortController();
  const relay = new Relay({
    js: bus.js,
    pub,
    log,
    signal: abort.signal,
    step,
    maxAttempts: cfg.maxAttempts,
    seen,
    metrics: routeMetrics(registry),
    tracing,
  });
  const pulling = new AbortController();
  // After a failed pull (a consumer leader change, a lost node) the consumer may hold events
  // delivered to this process that never arrived; they come back only after ack_wait. As at
  // start, wait for them before pulling newer ones, or they would land behind their successors.
  const reopen = async () => {
    await relay.idle();
    const c = await openConsumer();
    const unaccounted = (await c.info()).num_ack_pending;
    if (unaccounted > 0) {
      log.warn("waiting one ack wait for events delivered before the pull failed", {
        held: unaccounted,
        wait_ms: cfg.ackWaitMs,
      });
      await sleep(cfg.ackWaitMs + 1000, pulling.signal);
    }
    return c;
  };
  const reconnects = { count: 0 };
  onReconnect(bus.nc, () => reconnects.count++);
  const loop = consumeBatches(consumer, {
    maxBatch: cfg.maxBatch,
    signal: pulling.signal,
    log,
    reopen,
    reconnects,
  }, async (batch) => {
    for (const m of batch) relay.accept(m);
  });
  loop.catch((err) => log.error("route consumer stopped", { err }));
  log.info("route running", { consumer: ROUTE_CONSUMER, health_port: server.port });
  return {
    port: server.port,
    opsPort: server.port,
    async stop() {
      pulling.abort();
      await loop.catch(() => {});
      // Finish what was pulled so it is acked now, not redelivered after ack_wait.
      await relay.idle();
      abort.abort();
      await server.close();
      await bus.nc.drain();
      await tracing?.shutdown();
    },
  };
}

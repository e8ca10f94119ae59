import type { Consumer } from "@nats-io/jetstream";
import {
  DLQ_STREAM,
  EVENTS_STREAM,
  INGEST_STREAM,
  ROUTE_PRIORITY_GROUP,
  routeConsumer,
  routeConsumerName,
} from "../../subjects/mod.ts";
import {
  busChecks,
  consumeBatches,
  durableOpener,
  inboxPrefix,
  onReconnect,
  openBus,
  pinOf,
  PipelinedPublisher,
  requirePartitions,
  sleep,
} from "../bus/mod.ts";
import { opsRoutes, startOpsServer } from "../httpapi/mod.ts";
import type { RunningService } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import { consumerLag, createRegistry, natsConnected, streamMessages } from "../metrics/mod.ts";
import { startTracing } from "../telemetry/mod.ts";
import type { RouteConfig } from "./config.ts";
import { routeMetrics } from "./metrics.ts";
import { handOver } from "./handover.ts";
import { defaultRoute, Relay, type RouteStep } from "./relay.ts";
import { SeenIds } from "./seen.ts";

/**
 * Past one ack wait, how long a replica that took over a partition waits more: a pull stays open
 * on the server for 2 s (batches.ts), so the last events sent to the previous holder went out up
 * to then.
 */
const TAKEOVER_EXTRA_MS = 3000;

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
  // P from INGEST's metadata, as ingest reads it: the partitions this replica competes for.
  const partitions = await requirePartitions(bus.jsm, "route").catch(async (err) => {
    await bus.nc.close();
    throw err;
  });
  const settings = {
    ackWaitMs: cfg.ackWaitMs,
    maxAckPending: cfg.maxAckPending,
    pinTimeoutMs: cfg.pinTimeoutMs,
  };
  const openers = Array.from(
    { length: partitions },
    (_, p) => durableOpener(bus, routeConsumer(p, settings), log),
  );
  const consumers: Consumer[] = [];
  for (const open of openers) consumers.push(await open());
  const registry = createRegistry("route");
  natsConnected(registry, bus.connected);
  consumerLag(
    registry,
    bus.jsm,
    INGEST_STREAM,
    Array.from({ length: partitions }, (_, p) => routeConsumerName(p)),
  );
  streamMessages(registry, bus.jsm, streams);
  const metrics = routeMetrics(registry);
  const server = await startOpsServer(
    cfg.listen,
    opsRoutes("route", registry, busChecks(bus, streams)),
  );
  const abort = new AbortController();
  const relay = new Relay({
    js: bus.js,
    pub,
    log,
    signal: abort.signal,
    step,
    maxAttempts: cfg.maxAttempts,
    seen,
    metrics,
    tracing,
  });
  const pulling = new AbortController();
  const reconnects = { count: 0 };
  onReconnect(bus.nc, () => reconnects.count++);
  const loops = consumers.map((consumer, p) => {
    const name = routeConsumerName(p);
    // After a failed pull (a consumer leader change, a lost node) the consumer may hold events
    // delivered to this process that never arrived; they come back only after ack_wait. Wait
    // for them before pulling newer ones, or they would land behind their successors.
    const reopen = async () => {
      await relay.idle();
      const c = await openers[p]();
      const unaccounted = (await c.info()).num_ack_pending;
      if (unaccounted > 0 && pinOf(INGEST_STREAM, name) !== undefined) {
        log.warn("waiting one ack wait for events delivered before the pull failed", {
          consumer: name,
          held: unaccounted,
          wait_ms: cfg.ackWaitMs,
        });
        await sleep(cfg.ackWaitMs + 1000, pulling.signal);
      }
      return c;
    };
    // The partition came to this replica (first start, or the holder stopped pulling). Events
    // the previous holder took and did not ack come back only after ack_wait; relaying newer
    // ones first would put them behind their successors. So if the consumer counts more
    // unacked events than this fetch brought, drop what it brought and wait until all of them
    // are due again: the next pulls get them in stream order.
    const gained = async (received: number) => {
      metrics.partitionsGained.inc();
      const held = (await consumers[p].info()).num_ack_pending - received;
      log.info("partition taken over", { consumer: name, partition: p, foreign_unacked: held });
      if (held <= 0) return true;
      log.warn("waiting for events the previous holder left unacked", {
        consumer: name,
        held,
        wait_ms: cfg.ackWaitMs + TAKEOVER_EXTRA_MS,
      });
      await sleep(cfg.ackWaitMs + TAKEOVER_EXTRA_MS, pulling.signal);
      return false;
    };
    const loop = consumeBatches(consumer, {
      maxBatch: cfg.maxBatch,
      signal: pulling.signal,
      log,
      reopen,
      reconnects,
      pinned: { group: ROUTE_PRIORITY_GROUP, gained },
    }, async (batch) => {
      for (const m of batch) relay.accept(m);
    });
    loop.catch((err) => log.error("route consumer stopped", { err, consumer: name }));
    return loop;
  });
  log.info("route running", {
    consumers: `${routeConsumerName(0)}..${routeConsumerName(partitions - 1)}`,
    partitions,
    pin_timeout_ms: cfg.pinTimeoutMs,
    health_port: server.port,
  });
  return {
    port: server.port,
    opsPort: server.port,
    async stop() {
      pulling.abort();
      await Promise.all(loops.map((l) => l.catch(() => {})));
      // Finish what was pulled so it is acked now, not redelivered after ack_wait.
      await relay.idle();
      // Then hand every partition this replica holds to a waiting replica at once, rather than
      // after the pin timeout: nothing of it is left unacked.
      await handOver(bus.jsm, partitions, log, metrics);
      abort.abort();
      await server.close();
      await bus.nc.drain();
      await tracing?.shutdown();
    },
  };
}

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
} from "../bus/mod.ts";
import { opsRoutes, startOpsServer } from "../httpapi/mod.ts";
import type { RunningService } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import { consumerLag, createRegistry, natsConnected, streamMessages } from "../metrics/mod.ts";
import { startTracing } from "../telemetry/mod.ts";
import type { RouteConfig } from "./config.ts";
import { routeMetrics } from "./metrics.ts";
import { Balancer } from "./balance.ts";
import { handOver } from "./handover.ts";
import { Takeover } from "./takeover.ts";
import { defaultRoute, Relay, type RouteStep } from "./relay.ts";
import { SeenIds } from "./seen.ts";
import { startRules } from "./processing-start.ts";

/** How often a replica compares the partitions it holds with its fair share (balance.ts). */
const BALANCE_INTERVAL_MS = 5000;
/**
 * How long a handed-over partition is left to the others: waiting pulls expire after 2 s
 * (batches.ts), so each waiting replica has pulled again well within it.
 */
const BALANCE_COOLDOWN_MS = 5000;

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
  // Undefined when no namespace has rules: the relay then is v1's alone.
  const rules = await startRules(cfg, { bus, pub, seen, log, metrics, signal: abort.signal })
    .catch(async (err) => {
      await server.close();
      await bus.nc.close();
      throw err;
    });
  const relay = new Relay({
    js: bus.js,
    pub,
    log,
    signal: abort.signal,
    step,
    maxAttempts: cfg.maxAttempts,
    metrics,
    tracing,
    rules: rules?.processing,
  });
  const pulling = new AbortController();
  const reconnects = { count: 0 };
  onReconnect(bus.nc, () => reconnects.count++);
  const balancer = new Balancer({
    jsm: bus.jsm,
    partitions,
    log,
    metrics,
    idle: () => relay.idle(),
    release: rules?.processing && ((p) => rules.processing!.release(p)),
    signal: pulling.signal,
    intervalMs: BALANCE_INTERVAL_MS,
    cooldownMs: BALANCE_COOLDOWN_MS,
  });
  const takeovers: Takeover[] = [];
  const loops = consumers.map((consumer, p) => {
    const name = routeConsumerName(p);
    // After a failed pull (a consumer leader change, a lost node, a restart of nats-server) the
    // consumer may hold events delivered to this process, or to a holder that died before it,
    // that never arrived or were never acked; they come back only after ack_wait, and then in
    // the order the server redelivers them, not in stream order. So everything is gathered
    // until they are all in hand and relayed in stream order, as after a take-over
    // (takeover.ts), or they would land behind their successors.
    const reopen = async () => {
      await relay.idle();
      const c = await openers[p]();
      current = c;
      if (pinOf(INGEST_STREAM, name) !== undefined) {
        await takeover.gained(0, "events delivered before the pull failed are unacked");
      }
      return c;
    };
    // The partition came to this replica (first start, failover, hand-over): takeover.ts
    // keeps events the previous holder left unacked from being overtaken.
    let current = consumer;
    const takeover = new Takeover({
      consumer: () => current,
      log,
      name,
      ackWaitMs: cfg.ackWaitMs,
    });
    takeovers.push(takeover);
    const gained = async (received: number) => {
      metrics.partitionsGained.inc();
      const foreign = await takeover.gained(received);
      log.info("partition taken over", { consumer: name, partition: p, foreign_unacked: foreign });
      await rules?.processing?.gained(p, current);
      return true;
    };
    const loop = consumeBatches(consumer, {
      maxBatch: cfg.maxBatch,
      signal: pulling.signal,
      log,
      reopen,
      reconnects,
      pinned: { group: ROUTE_PRIORITY_GROUP, gained, beforePull: balancer.beforePull(p) },
    }, async (batch) => {
      for (const m of await takeover.take(batch)) relay.accept(m);
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
      balancer.stop();
      await Promise.all(loops.map((l) => l.catch(() => {})));
      // Finish what was pulled so it is acked now, not redelivered after ack_wait.
      await relay.idle();
      // A last checkpoint of each partition's rules, so their next holder replays nothing.
      rules?.stop();
      await rules?.processing?.close();
      // Then hand every partition this replica holds to a waiting replica at once, rather than
      // after the pin timeout: nothing of it is left unacked.
      await handOver(bus.jsm, partitions, log, metrics);
      for (const t of takeovers) t.close();
      abort.abort();
      await server.close();
      await bus.nc.drain();
      await tracing?.shutdown();
    },
  };
}

import { EVENTS_STREAM } from "../../subjects/mod.ts";
import { busChecks, onReconnect, openBus } from "../bus/mod.ts";
import { Guard } from "../edge/mod.ts";
import { opsRoutes, startOpsServer } from "../httpapi/mod.ts";
import type { RunningService } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import { createRegistry, natsConnected, streamMessages } from "../metrics/mod.ts";
import { openStore } from "../store/mod.ts";
import { startTracing } from "../telemetry/mod.ts";
import { startServer } from "../wsserver/mod.ts";
import type { NotifyConfig } from "./config.ts";
import { historyHandler } from "./history.ts";
import { Hub } from "./hub.ts";
import { notifyMetrics } from "./metrics.ts";
import { demoRoutes } from "./page.ts";
import { Presence } from "./presence.ts";
import { type SubscriberDeps, subscriberSocket } from "./ws.ts";

export async function startNotify(cfg: NotifyConfig, log: Logger): Promise<RunningService> {
  // First: a bad key file or JWKS URL fails the start before anything is opened.
  const guard = await Guard.create(cfg.edge, "notify", log);
  const tracing = await startTracing("notify", cfg.telemetry, log);
  const store = openStore(cfg.database, log);
  await store.migrate();
  const bus = await openBus(cfg.common.nats, "notify", [EVENTS_STREAM], log);
  const registry = createRegistry("notify");
  natsConnected(registry, bus.connected);
  streamMessages(registry, bus.jsm, [EVENTS_STREAM]);
  const checks = { ...busChecks(bus, [EVENTS_STREAM]), database: () => store.ping() };
  const presence = await Presence.open(bus.js, { ttlMs: cfg.presenceTtlMs, log });
  const hub = await Hub.start(bus.js, bus.jsm, log);
  const live: SubscriberDeps["live"] = new Set();
  onReconnect(bus.nc, () => {
    hub.restart();
    for (const sub of live) sub.restart();
    presence.resync();
  });
  const server = await startServer({
    host: cfg.listen.host,
    port: cfg.listen.port,
    maxBodyBytes: 1024,
    maxFrameBytes: Math.max(4 * cfg.maxFrameBytes, 64 * 1024),
    idleTimeoutSec: 120,
    // "buffered" and drain at the pause limit; the outbox enforces the disconnect limit above it.
    maxBackpressureBytes: cfg.maxBufferedBytes,
    routes: {
      "GET /v1/history": historyHandler(store, cfg.maxHistoryLimit, guard),
      ...demoRoutes(cfg.demo, log),
    },
    ws: subscriberSocket(cfg, {
      js: bus.js,
      jsm: bus.jsm,
      hub,
      store,
      presence,
      live,
      guard,
      log,
      metrics: notifyMetrics(registry),
      tracing,
    }),
  });
  // A taken operations port fails the start: close what is open, so the caller may retry in
  // this process.
  const ops = await startOpsServer(cfg.ops, opsRoutes("notify", registry, checks)).catch(
    async (err) => {
      await server.close(1001, "server shutting down");
      await hub.stop();
      await bus.nc.close();
      await store.close();
      throw err;
    },
  );
  log.info("notify listening", { host: cfg.listen.host, port: server.port, ops_port: ops.port });
  return {
    port: server.port,
    opsPort: ops.port,
    async stop() {
      // Subscribers resume by cursor on another notify (or this one after restart).
      await server.close(1001, "server shutting down");
      // Closing the sockets took their members out of presence; let those deletes land.
      await presence.close();
      await hub.stop();
      await ops.close();
      await bus.nc.drain();
      await store.close();
      await tracing?.shutdown();
    },
  };
}

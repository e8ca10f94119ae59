import { INGEST_STREAM } from "../../subjects/mod.ts";
import {
  busChecks,
  inboxPrefix,
  openBus,
  PipelinedPublisher,
  requirePartitions,
} from "../bus/mod.ts";
import { opsRoutes, startOpsServer } from "../httpapi/mod.ts";
import { Inflight, type RunningService } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import { createRegistry, natsConnected, streamMessages } from "../metrics/mod.ts";
import { Guard } from "../edge/mod.ts";
import { startTracing } from "../telemetry/mod.ts";
import { startServer } from "../wsserver/mod.ts";
import type { IngestConfig } from "./config.ts";
import { answersSent } from "./answers.ts";
import { publishHandler } from "./http.ts";
import { ingestMetrics } from "./metrics.ts";
import type { PublishDeps } from "./publish.ts";
import { publisherSocket } from "./ws.ts";

/** Room for the envelope around the largest accepted frame. */
const ENVELOPE_OVERHEAD = 512;

export async function startIngest(cfg: IngestConfig, log: Logger): Promise<RunningService> {
  const guard = await Guard.create(cfg.edge, "ingest", log);
  const tracing = await startTracing("ingest", cfg.telemetry, log);
  const bus = await openBus(cfg.common.nats, "ingest", [INGEST_STREAM], log);
  const partitions = await requirePartitions(bus.jsm, "ingest").catch(async (err) => {
    await bus.nc.close();
    throw err;
  });
  const registry = createRegistry("ingest");
  natsConnected(registry, bus.connected);
  streamMessages(registry, bus.jsm, [INGEST_STREAM]);
  const abort = new AbortController();
  const inflight = new Inflight();
  const pub: PublishDeps = {
    pub: new PipelinedPublisher(bus.nc, inboxPrefix("ingest")),
    partitions,
    guard,
    maxEventBytes: cfg.maxFrameBytes + ENVELOPE_OVERHEAD,
    publishTimeoutMs: cfg.publishTimeoutMs,
    signal: abort.signal,
    metrics: ingestMetrics(registry),
    tracing,
  };
  const server = await startServer({
    host: cfg.listen.host,
    port: cfg.listen.port,
    maxBodyBytes: cfg.maxBodyBytes,
    // Above the frame limit so an oversized frame gets an error frame, not a closed socket.
    maxFrameBytes: Math.max(4 * cfg.maxFrameBytes, 1024 * 1024),
    idleTimeoutSec: 120,
    maxBackpressureBytes: cfg.maxBufferedBytes,
    routes: { "POST /v1/publish": publishHandler(cfg, pub, inflight) },
    ws: publisherSocket(cfg, pub, inflight, log),
  });
  // A taken operations port fails the start: close what is open, so the caller may retry in
  // this process.
  const ops = await startOpsServer(
    cfg.ops,
    opsRoutes("ingest", registry, busChecks(bus, [INGEST_STREAM])),
  ).catch(async (err) => {
    await server.close(1001, "server shutting down");
    await bus.nc.close();
    throw err;
  });
  log.info("ingest listening", { host: cfg.listen.host, port: server.port, ops_port: ops.port });
  return {
    port: server.port,
    opsPort: ops.port,
    async stop() {
      server.stopListening();
      // Accepted publishes still get their acks before the sockets close.
      await inflight.settled();
      await answersSent();
      await server.close(1001, "server shutting down");
      abort.abort();
      await ops.close();
      await bus.nc.drain();
      await tracing?.shutdown();
    },
  };
}

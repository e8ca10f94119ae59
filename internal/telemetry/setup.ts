import { context } from "@opentelemetry/api";
import type { TelemetryConfig } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { AsyncContextManager } from "./context.ts";
import { OtelTracing, type Tracing } from "./tracing.ts";

let contextManager: AsyncContextManager | undefined;

/**
 * Tracing for one service (`jetmesh-<service>`), or undefined when no
 * exporter is configured: then nothing of the SDK is even loaded.
 */
export async function startTracing(
  service: string,
  cfg: TelemetryConfig,
  log: Logger,
): Promise<Tracing | undefined> {
  if (cfg.exporter === "none") return undefined;
  // Process-wide and shared: services started together in one process (tests) use one.
  if (contextManager === undefined) {
    contextManager = new AsyncContextManager();
    context.setGlobalContextManager(contextManager);
  }
  const { createProvider } = await import("./provider.ts");
  const provider = await createProvider(`jetmesh-${service}`, cfg);
  log.info("tracing on", {
    exporter: cfg.exporter,
    endpoint: cfg.endpoint,
    sample_ratio: cfg.sampleRatio,
  });
  return new OtelTracing(provider.getTracer("jetmesh"), () => provider.shutdown());
}

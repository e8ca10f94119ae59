import type { SpanExporter, TracerConfig } from "@opentelemetry/sdk-trace-base";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import type { TelemetryConfig } from "../config/mod.ts";

type Resource = NonNullable<TracerConfig["resource"]>;

/**
 * The resource naming the service in every span it exports. Built by hand:
 * the SDK only needs this interface, and the package that implements it is
 * not one jetmesh depends on.
 */
function serviceResource(attributes: Record<string, string>): Resource {
  return {
    attributes,
    merge: (
      other,
    ) => (other
      ? serviceResource({ ...attributes, ...(other.attributes as Record<string, string>) })
      : serviceResource(attributes)),
    getRawAttributes: () => Object.entries(attributes),
  };
}

async function exporterFor(cfg: TelemetryConfig): Promise<SpanExporter> {
  // Loaded only when chosen: with tracing off neither exporter is imported.
  if (cfg.exporter === "jaeger") {
    const { JaegerExporter } = await import("@opentelemetry/exporter-jaeger");
    // Built against an older copy of the SDK types; the interface is the same.
    return new JaegerExporter({ endpoint: cfg.endpoint }) as unknown as SpanExporter;
  }
  const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
  return new OTLPTraceExporter({ url: cfg.endpoint });
}

/**
 * A tracer provider of the service's own (not the global one), so that the
 * four services started in one test process still export under their own
 * names. New traces are sampled at `sampleRatio`; a trace that arrives with a
 * context keeps the decision made upstream, so a trace is whole or absent.
 */
export async function createProvider(
  serviceName: string,
  cfg: TelemetryConfig,
): Promise<BasicTracerProvider> {
  return new BasicTracerProvider({
    resource: serviceResource({ "service.name": serviceName, "service.namespace": "jetmesh" }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(await exporterFor(cfg))],
  });
}

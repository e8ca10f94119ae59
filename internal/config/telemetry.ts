import type { EnvReader } from "./env.ts";

export type TraceExporter = "otlp" | "jaeger" | "none";

export interface TelemetryConfig {
  exporter: TraceExporter;
  /** OTLP/HTTP traces URL, or the Jaeger collector's thrift-over-HTTP URL. */
  endpoint: string;
  /** Share of new traces recorded, 0 to 1; a trace started upstream keeps its own decision. */
  sampleRatio: number;
}

const exporters: readonly TraceExporter[] = ["otlp", "jaeger", "none"];
const OTLP_TRACES_PATH = "/v1/traces";
const DEFAULT_OTLP_ENDPOINT = `http://localhost:4318${OTLP_TRACES_PATH}`;
const DEFAULT_JAEGER_ENDPOINT = "http://localhost:14268/api/traces";

/**
 * Tracing settings, with the standard OpenTelemetry variable names where one
 * exists. Nothing configured means no exporter: tracing stays off and costs
 * nothing. Setting only an OTLP endpoint is enough to turn it on.
 */
export function readTelemetry(r: EnvReader): TelemetryConfig {
  // Per the OTel spec the generic endpoint is a base URL and the signal path is appended.
  const base = r.optional("OTEL_EXPORTER_OTLP_ENDPOINT");
  const traces = r.optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const otlp = traces ??
    (base === undefined ? undefined : base.replace(/\/+$/, "") + OTLP_TRACES_PATH);
  const implied: TraceExporter = otlp === undefined ? "none" : "otlp";
  const exporter = r.oneOf(
    "OTEL_EXPORTER",
    r.oneOf("OTEL_TRACES_EXPORTER", implied, exporters),
    exporters,
  );
  const [endpointVar, endpoint] = exporter === "jaeger"
    ? [
      "OTEL_EXPORTER_JAEGER_ENDPOINT",
      r.string("OTEL_EXPORTER_JAEGER_ENDPOINT", DEFAULT_JAEGER_ENDPOINT),
    ]
    : [
      traces === undefined ? "OTEL_EXPORTER_OTLP_ENDPOINT" : "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
      otlp ?? DEFAULT_OTLP_ENDPOINT,
    ];
  r.check(endpointVar, /^https?:\/\/\S+$/.test(endpoint), "an http:// or https:// URL");
  const sampleRatio = r.number(
    "JETMESH_TRACE_SAMPLE_RATIO",
    r.number("OTEL_TRACES_SAMPLER_ARG", 1, 0, 1),
    0,
    1,
  );
  return { exporter, endpoint, sampleRatio };
}

import t from "tap";
import { EnvReader } from "./env.ts";
import { readTelemetry } from "./telemetry.ts";

const read = (env: Record<string, string>) => {
  const r = new EnvReader(env);
  const cfg = readTelemetry(r);
  r.done();
  return cfg;
};

t.test("tracing is off unless an exporter or an OTLP endpoint is configured", async (t) => {
  t.same(read({}), {
    exporter: "none",
    endpoint: "http://localhost:4318/v1/traces",
    sampleRatio: 1,
  });
  t.same(
    read({ OTEL_EXPORTER: "otlp" }).endpoint,
    "http://localhost:4318/v1/traces",
    "otlp defaults to Jaeger's OTLP port",
  );
  t.same(read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://jaeger:4318/" }), {
    exporter: "otlp",
    endpoint: "http://jaeger:4318/v1/traces",
    sampleRatio: 1,
  }, "a base endpoint turns OTLP on; the signal path is appended");
  t.equal(
    read({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/custom" }).endpoint,
    "http://c:4318/custom",
    "a traces endpoint is used as is",
  );
  t.equal(
    read({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER: "none" }).exporter,
    "none",
    "an explicit none wins",
  );
  t.equal(
    read({ OTEL_TRACES_EXPORTER: "jaeger" }).exporter,
    "jaeger",
    "the standard variable name works too",
  );
  t.same(read({ OTEL_EXPORTER: "jaeger" }).endpoint, "http://localhost:14268/api/traces");
  t.equal(
    read({ OTEL_EXPORTER: "jaeger", OTEL_EXPORTER_JAEGER_ENDPOINT: "http://j:14268/api/traces" })
      .endpoint,
    "http://j:14268/api/traces",
  );
});

t.test("sampling ratio", async (t) => {
  t.equal(read({ OTEL_TRACES_SAMPLER_ARG: "0.25" }).sampleRatio, 0.25);
  t.equal(
    read({ OTEL_TRACES_SAMPLER_ARG: "0.25", JETMESH_TRACE_SAMPLE_RATIO: "0.5" }).sampleRatio,
    0.5,
    "jetmesh's own variable wins",
  );
  t.throws(
    () => read({ JETMESH_TRACE_SAMPLE_RATIO: "2" }),
    /JETMESH_TRACE_SAMPLE_RATIO="2": expected a number from 0 to 1/,
  );
  t.throws(
    () => read({ OTEL_EXPORTER: "zipkin" }),
    /OTEL_EXPORTER="zipkin": expected one of otlp, jaeger, none/,
  );
  t.throws(
    () => read({ OTEL_EXPORTER_OTLP_ENDPOINT: "jaeger:4318" }),
    /OTEL_EXPORTER_OTLP_ENDPOINT/,
  );
});

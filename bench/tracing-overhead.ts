/**
 * What tracing costs: the same work with no exporter configured (tracing off,
 * the default), with OTLP export on and every trace sampled, and with export on
 * but a sampling ratio of 0. Prints figures; it never passes or fails.
 *
 *   make bench-tracing            (BENCH_EVENTS=20000 BENCH_ROUNDS=3 to change the size)
 *
 * 0. What "off" costs: route's per-event code with tracing off against the
 *    same loop with the tracing calls taken out.
 * 1. Per-hop cost in a tight loop: what route does for each event around its
 *    real work (span from the message's headers, attributes, context into the
 *    outgoing headers, end), plus the metrics it updates.
 * 2. Ingest publish throughput against a real nats-server: publishEvent() with
 *    256 publishes in flight, as the WebSocket path runs it.
 * Rounds alternate between the modes so drift on a shared machine hits all alike.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type TelemetryConfig } from "../internal/config/mod.ts";
import { anonymous } from "../internal/auth/mod.ts";
import { Guard } from "../internal/edge/mod.ts";
import { DEFAULT_CONNECTIONS, DEFAULT_LIMITS } from "../internal/namespaces/mod.ts";
import { ingestMetrics } from "../internal/ingest/metrics.ts";
import { admit, type PublishDeps, publishEvent } from "../internal/ingest/publish.ts";
import { createLogger } from "../internal/log/mod.ts";
import {
  createRegistry,
  eventsAcked,
  eventsReceived,
  publishAckSeconds,
} from "../internal/metrics/mod.ts";
import { ATTR, endSpan, SpanKind, startTracing, type Tracing } from "../internal/telemetry/mod.ts";
import { DEFAULT_PARTITIONS, streamConfigs } from "../subjects/mod.ts";
import { ensureStreams } from "../internal/bus/mod.ts";
import { startNatsServer } from "../devkit/nats-server.ts";

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HOP_ITERATIONS = 100_000;
const OFF_PAIRS = 15;
const quiet = createLogger({ svc: "bench" }, { level: "error" });
const BENCH_CALLER = anonymous("bench");
/** Open, and no rate limit: the figure is the publish path's cost, not a limit's. */
const UNLIMITED = { perSecond: 10_000_000, burst: 10_000_000 };
const guard = await Guard.create(
  {
    auth: { mode: "none" },
    namespaces: {
      namespaces: [],
      defaults: { ...DEFAULT_LIMITS, publishRate: UNLIMITED },
      connections: DEFAULT_CONNECTIONS,
    },
    allowedOrigins: [],
  },
  "bench",
  quiet,
);

type Mode = "off" | "on (sampled)" | "on (ratio 0)";
const MODES: Mode[] = ["off", "on (sampled)", "on (ratio 0)"];

async function startSink(): Promise<{ url: string; spans(): Promise<number>; stop(): void }> {
  const child = spawn(process.execPath, [
    "--import",
    "tsx",
    new URL("./otlp-sink.ts", import.meta.url).pathname,
  ], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const url = (await lines.next()).value as string;
  return {
    url,
    async spans() {
      child.stdin!.write("\n");
      return Number((await lines.next()).value);
    },
    stop: () => child.kill(),
  };
}

async function tracingFor(mode: Mode, sink: string): Promise<Tracing | undefined> {
  const cfg: TelemetryConfig = {
    exporter: mode === "off" ? "none" : "otlp",
    endpoint: `${sink}/v1/traces`,
    sampleRatio: mode === "on (ratio 0)" ? 0 : 1,
  };
  return await startTracing("bench", cfg, quiet);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/**
 * Tight loops report their fastest round: on a shared machine the slower ones measure the
 * neighbours.
 */
const fastest = (xs: number[]) => Math.min(...xs);
/** Lets the previous mode's export and garbage collection finish before the next one is timed. */
const settle = () => new Promise((r) => setTimeout(r, 300));

function hopMetrics() {
  const reg = createRegistry("bench");
  return {
    received: eventsReceived(reg),
    acked: eventsAcked(reg),
    ackLatency: publishAckSeconds(reg),
  };
}

/** The loop below with every tracing call taken out: what "off" is compared with. */
function untracedLoop(n: number): number {
  const { received, acked, ackLatency } = hopMetrics();
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    received.inc();
    natsHeaders();
    ackLatency.observe(0.001);
    acked.inc();
  }
  return ((performance.now() - start) * 1e6) / n;
}

/**
 * Route's per-event tracing and metrics, without the bus. The upstream context is sampled unless
 * the mode samples nothing.
 */
function hopLoop(tracing: Tracing | undefined, n: number, sampled: boolean): number {
  const { received, acked, ackLatency } = hopMetrics();
  const inbound = natsHeaders();
  inbound.set(
    "traceparent",
    `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0${sampled ? 1 : 0}`,
  );
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    received.inc();
    const span = tracing?.startFromHeaders("route relay", SpanKind.CONSUMER, inbound, {
      [ATTR.stream]: "INGEST",
      [ATTR.streamSeq]: i,
      [ATTR.deliveryCount]: 1,
      [ATTR.channel]: "bench.channel",
    });
    span?.setAttribute(ATTR.eventId, "bench:id");
    const out = natsHeaders();
    if (span !== undefined) tracing!.inject(span, out);
    span?.setAttribute(ATTR.outSeq, i);
    endSpan(span);
    ackLatency.observe(0.001);
    acked.inc();
  }
  return ((performance.now() - start) * 1e6) / n;
}

async function publishRun(o: PublishDeps, n: number, round: number): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const frame = {
        op: "pub" as const,
        id: `r${round}-${i}`,
        channel: `bench.c${i % 16}`,
        data: { i, pad: "x".repeat(120) },
      };
      const r = { caller: BENCH_CALLER, address: "127.0.0.1", frame };
      await publishEvent(o, r, admit(o, r));
    }
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  return n / ((performance.now() - start) / 1000);
}

const sink = await startSink();
const nats = await startNatsServer();
try {
  const nc = await connect({ servers: nats.url, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(
    jsm,
    streamConfigs({
      ingestDuplicateWindowMs: 120_000,
      ingestMaxAgeMs: 3_600_000,
      ingestMaxBytes: 1024 ** 3,
      eventsDuplicateWindowMs: 120_000,
      eventsMaxAgeMs: 3_600_000,
      eventsMaxBytes: 1024 ** 3,
      dlqMaxAgeMs: 3_600_000,
      dlqMaxBytes: 1024 ** 3,
      replicas: 1,
    }),
    quiet,
  );
  const js = jetstream(nc);

  const hop = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  const pub = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  // Off against no tracing code, first: before any tracer exists, as in a
  // service that runs with tracing off (the JIT has seen no span). Loops back
  // to back, many times, so both see the same machine; the median of the
  // differences is the figure.
  const offCost: number[] = [];
  for (let i = 0; i < OFF_PAIRS; i++) {
    const base = untracedLoop(HOP_ITERATIONS);
    offCost.push(hopLoop(undefined, HOP_ITERATIONS, true) - base);
  }
  const tracings = new Map<Mode, Tracing | undefined>();
  for (const m of MODES) tracings.set(m, await tracingFor(m, sink.url));
  // Warm up every path (JIT, connections) before measuring.
  const sampled = (m: Mode) => m !== "on (ratio 0)";
  for (const m of MODES) hopLoop(tracings.get(m), 20_000, sampled(m));

  for (let round = 0; round < ROUNDS; round++) {
    for (const m of MODES) {
      await settle();
      hop.get(m)!.push(hopLoop(tracings.get(m), HOP_ITERATIONS, sampled(m)));
      await settle();
      const o: PublishDeps = {
        pub: js,
        partitions: DEFAULT_PARTITIONS,
        guard,
        maxEventBytes: 65_536,
        publishTimeoutMs: 10_000,
        signal: new AbortController().signal,
        metrics: ingestMetrics(createRegistry("bench")),
        tracing: tracings.get(m),
      };
      pub.get(m)!.push(await publishRun(o, EVENTS, round * 10 + MODES.indexOf(m)));
    }
  }
  for (const m of MODES) await tracings.get(m)?.shutdown();
  const exported = await sink.spans();

  const offHop = fastest(hop.get("off")!);
  const offPub = median(pub.get("off")!);
  console.log(
    `tracing overhead, ${ROUNDS} rounds: per hop the fastest round, publish the median (node ${process.version})`,
  );
  console.log("");
  console.log(
    `tracing off vs no tracing code at all: ${
      median(offCost).toFixed(0)
    } ns per hop (median of ${OFF_PAIRS} back-to-back pairs; ` +
      `quartiles ${
        [...offCost].sort((a, b) => a - b).filter((_, i) => i === 3 || i === 11).map((x) =>
          x.toFixed(0)
        ).join(" / ")
      } ns)`,
  );
  console.log("");
  console.log("mode            per-hop ns/event   vs off      ingest publish events/s   vs off");
  for (const m of MODES) {
    const h = fastest(hop.get(m)!);
    const p = median(pub.get(m)!);
    console.log(
      `${m.padEnd(16)}${h.toFixed(0).padStart(12)}${
        `${h - offHop >= 0 ? "+" : ""}${(h - offHop).toFixed(0)} ns`.padStart(14)
      }` +
        `${p.toFixed(0).padStart(22)}${
          `${(((p - offPub) / offPub) * 100).toFixed(1)} %`.padStart(12)
        }`,
    );
  }
  console.log("");
  console.log(
    `per-hop: ${HOP_ITERATIONS} iterations a round (metrics included in every mode); publish: ${EVENTS} events a round, 256 in flight`,
  );
  console.log(`spans received by the OTLP sink: ${exported}`);
  console.log(
    `raw per-hop ns: ${
      JSON.stringify(Object.fromEntries([...hop].map(([k, v]) => [
        k,
        v.map((x) => Math.round(x)),
      ])))
    }`,
  );
  console.log(
    `raw publish/s:  ${
      JSON.stringify(Object.fromEntries([...pub].map(([k, v]) => [
        k,
        v.map((x) => Math.round(x)),
      ])))
    }`,
  );
  await nc.close();
} finally {
  await nats.stop();
  sink.stop();
}

/**
 * Phase 3: publish→deliver latency at fixed offered rates, for jetmesh and for
 * the one-hop prototype (bench/workers/proto.ts) on the same nats-server,
 * alternating so that both see the same machine load.
 */
import { note } from "../progress.ts";
import { snapshot, usage, type CpuUsage } from "../sampler.ts";
import { fmtCount, fmtMs, type LatencySummary, ratio, summarize } from "../stats.ts";
import { Worker } from "../worker.ts";
import { type Ctx, waitShowing } from "./context.ts";

interface Counts {
  sent: number;
  acked: number;
  errors: number;
  delivered: number;
  violations: number;
  firstError?: string;
}

export interface LatencyRun {
  offered: number;
  latency: LatencySummary;
  sent: number;
  delivered: number;
  errors: number;
  firstError?: string;
  orderViolations: number;
  cpu: CpuUsage;
}

export interface LatencyResult {
  rate: number;
  jetmesh: LatencyRun;
  proto: LatencyRun;
  /** jetmesh p99 / prototype p99. */
  p99Ratio: number | null;
}

interface Target {
  name: string;
  publishUrl: string;
  subscribeUrl: string;
  pids: Record<string, number>;
}

async function measure(ctx: Ctx, t: Target, rate: number): Promise<LatencyRun> {
  const { opts } = ctx;
  const tag = ctx.tag("l");
  // Few channels keep every subscription busy enough to stay warm at 1k/s.
  const channels = Array.from({ length: Math.min(opts.channels, 16) }, (_, i) => `lat.${tag}.c${i}`);
  const lg = await Worker.start("loadgen", "loadgen.ts");
  const pids = { ...t.pids, nats: ctx.nats.pid ?? -1, loadgen: lg.pid };
  try {
    await lg.call("open", { tag, channels, publishUrl: t.publishUrl, subscribeUrl: t.subscribeUrl, publishers: 1, payloadBytes: opts.payloadBytes });
    await lg.call("run", { rate });
    const status = (what: string) => async () => {
      const c = await lg.call<Counts>("counts");
      return `latency ${t.name} @ ${fmtCount(rate)}/s ${what}: sent ${fmtCount(c.sent)} delivered ${fmtCount(c.delivered)} errors ${c.errors}`;
    };
    await waitShowing(opts.warmupSec * 1000, status("warm-up"));
    const c0 = await lg.call<Counts>("mark");
    const s0 = snapshot(pids);
    await waitShowing(opts.durationSec * 1000, status("window"));
    const s1 = snapshot(pids);
    await lg.call("halt");
    const c1 = await lg.call<Counts>("drain", { timeoutMs: 10_000 });
    const samples = await lg.call<number[]>("samples");
    return {
      offered: rate,
      latency: summarize(samples),
      sent: c1.sent - c0.sent,
      delivered: c1.delivered - c0.delivered,
      errors: c1.errors,
      firstError: c1.firstError,
      orderViolations: c1.violations,
      cpu: usage(s0, s1),
    };
  } finally {
    await lg.call("close").catch(() => {});
    await lg.stop();
  }
}

export async function latency(ctx: Ctx): Promise<LatencyResult[]> {
  const protoIngest = await Worker.start("proto-ingest", "proto.ts");
  const protoNotify = await Worker.start("proto-notify", "proto.ts");
  try {
    const stream = { url: ctx.nats.url, stream: "BENCH_PROTO", prefix: "bench_proto" };
    const { port: pubPort } = await protoIngest.call<{ port: number }>("ingest", stream);
    const { port: subPort } = await protoNotify.call<{ port: number }>("notify", stream);
    const jetmesh: Target = { name: "jetmesh", publishUrl: ctx.stack.ingestWs, subscribeUrl: ctx.stack.notifyWs, pids: ctx.stack.pids() };
    const proto: Target = {
      name: "prototype",
      publishUrl: `ws://127.0.0.1:${pubPort}/`,
      subscribeUrl: `ws://127.0.0.1:${subPort}/`,
      pids: { "proto-ingest": protoIngest.pid, "proto-notify": protoNotify.pid },
    };
    const out: LatencyResult[] = [];
    for (const rate of ctx.opts.rates) {
      note(`latency @ ${fmtCount(rate)}/s offered: jetmesh, then the prototype (${ctx.opts.warmupSec}s warm-up + ${ctx.opts.durationSec}s each)`);
      const j = await measure(ctx, jetmesh, rate);
      const p = await measure(ctx, proto, rate);
      const r: LatencyResult = { rate, jetmesh: j, proto: p, p99Ratio: ratio(j.latency.p99, p.latency.p99) };
      const show = (x: LatencyRun) => `p50 ${fmtMs(x.latency.p50)} p99 ${fmtMs(x.latency.p99)} p999 ${fmtMs(x.latency.p999)}`;
      note(`latency @ ${fmtCount(rate)}/s: jetmesh ${show(j)} | prototype ${show(p)}`);
      out.push(r);
    }
    return out;
  } finally {
    await protoIngest.stop();
    await protoNotify.stop();
  }
}

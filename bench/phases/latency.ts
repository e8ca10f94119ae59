/**
 * Phase 3: publish→deliver latency at fixed offered rates, for jetmesh and for
 * the one-hop prototype (bench/workers/proto.ts) on the same nats-server.
 * One client process holds both sets of connections; the two take turns in
 * slices, so both see the same machine load.
 */
import { note } from "../progress.ts";
import type { CpuUsage } from "../sampler.ts";
import { fmtCount, fmtMs, type LatencySummary, ratio, summarize } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Counts } from "../workers/loadgen.ts";
import type { Ctx } from "./context.ts";
import { delta, interleave, loadgenTarget, sliceOptions, type SliceTarget } from "./slices.ts";

export interface LatencyRun {
  offered: number;
  latency: LatencySummary;
  sent: number;
  /**
   * Events delivered per second over the measured slices, what CPU per event divides by: when
   * jetmesh falls behind, events sent but not delivered did not cost the whole pipeline yet.
   */
  deliveredPerSec: number;
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

const NAMES = { jetmesh: "jetmesh", proto: "prototype" } as const;

/**
 * Where a loadgen scenario connects: publish and subscribe URLs, and the token jetmesh wants
 * (the prototype takes none).
 */
interface Endpoints {
  urls: [string, string];
  token?: string;
}

async function atRate(
  ctx: Ctx,
  lg: Worker,
  pids: Record<string, Record<string, number>>,
  endpoints: Record<string, Endpoints>,
  rate: number,
) {
  const { opts } = ctx;
  for (const name of Object.values(NAMES)) {
    const tag = ctx.tag("l");
    const channels = Array.from({ length: opts.channels }, (_, i) => `lat.${tag}.c${i}`);
    const { urls: [publishUrl, subscribeUrl], token } = endpoints[name];
    await lg.call("open", {
      name,
      tag,
      channels,
      publishUrl,
      subscribeUrl,
      token,
      publishers: 1,
      payloadBytes: opts.payloadBytes,
    });
  }
  const target = (name: string): SliceTarget<Counts> => ({
    ...loadgenTarget<Counts>(
      lg,
      name,
      { ...pids[name], nats: ctx.nats.pid ?? -1, loadgen: lg.pid },
      () => lg.call("run", { name, rate }),
      (c, what) =>
        `latency ${name} @ ${fmtCount(rate)}/s ${what}: sent ${fmtCount(c.sent)} delivered ${
          fmtCount(c.delivered)
        } errors ${c.errors}`,
    ),
    // Latency samples count for events sent from the mark until the halt.
    begin: () => lg.call("mark", { name }),
  });
  const sliced = await interleave([target(NAMES.jetmesh), target(NAMES.proto)], sliceOptions(opts));
  const run = async (name: string): Promise<LatencyRun> => {
    const s = sliced.get(name)!;
    const last = await lg.call<Counts>("counts", { name });
    const samples = await lg.call<number[]>("samples", { name });
    await lg.call("close", { name });
    return {
      offered: rate,
      latency: summarize(samples),
      sent: delta(s, (c) => c.sent),
      deliveredPerSec: s.ms > 0 ? (samples.length * 1000) / s.ms : 0,
      delivered: samples.length,
      errors: last.errors,
      firstError: last.firstError,
      orderViolations: last.violations,
      cpu: s.cpu,
    };
  };
  return { jetmesh: await run(NAMES.jetmesh), proto: await run(NAMES.proto) };
}

export async function latency(ctx: Ctx): Promise<LatencyResult[]> {
  const protoIngest = await Worker.start("proto-ingest", "proto.ts");
  const protoNotify = await Worker.start("proto-notify", "proto.ts");
  const lg = await Worker.start("loadgen", "loadgen.ts");
  try {
    const stream = {
      url: ctx.nats.url,
      ...ctx.nats.users.admin,
      stream: "BENCH_PROTO",
      prefix: "bench_proto",
    };
    const { port: pubPort } = await protoIngest.call<{ port: number }>("ingest", stream);
    const { port: subPort } = await protoNotify.call<{ port: number }>("notify", stream);
    const endpoints: Record<string, Endpoints> = {
      [NAMES.jetmesh]: {
        urls: [ctx.stack.ingestWs, ctx.stack.notifyWs],
        token: await ctx.stack.token("bench-latency"),
      },
      [NAMES.proto]: { urls: [`ws://127.0.0.1:${pubPort}/`, `ws://127.0.0.1:${subPort}/`] },
    };
    const pids = {
      [NAMES.jetmesh]: ctx.stack.pids(),
      [NAMES.proto]: { "proto-ingest": protoIngest.pid, "proto-notify": protoNotify.pid },
    };
    const out: LatencyResult[] = [];
    for (const rate of ctx.opts.rates) {
      note(
        `latency @ ${
          fmtCount(rate)
        }/s offered over ${ctx.opts.channels} channels: jetmesh and the prototype alternating ${ctx.opts.rounds}× (${ctx.opts.durationSec}s each in all)`,
      );
      const { jetmesh, proto } = await atRate(ctx, lg, pids, endpoints, rate);
      const show = (x: LatencyRun) =>
        `p50 ${fmtMs(x.latency.p50)} p99 ${fmtMs(x.latency.p99)} p999 ${fmtMs(x.latency.p999)}`;
      note(`latency @ ${fmtCount(rate)}/s: jetmesh ${show(jetmesh)} | prototype ${show(proto)}`);
      out.push({ rate, jetmesh, proto, p99Ratio: ratio(jetmesh.latency.p99, proto.latency.p99) });
    }
    return out;
  } finally {
    await lg.stop();
    await protoIngest.stop();
    await protoNotify.stop();
  }
}

/** Phase 1: raw JetStream ceilings on the same nats-server, before the services load it. */
import { snapshot, usage, type CpuUsage } from "../sampler.ts";
import { note, progress } from "../progress.ts";
import { fmtCount, perSecond } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Ctx } from "./context.ts";

export interface Ceiling {
  perSec: number;
  count: number;
  ms: number;
  failed: number;
  cpu: CpuUsage;
}

export interface CeilingsResult {
  publish: Ceiling;
  relay: Ceiling & { exhausted: boolean };
}

/** msgpack envelope around the client's data: id, channel, publisher, timestamps. */
export const ENVELOPE_OVERHEAD = 90;

export async function ceilings(ctx: Ctx): Promise<CeilingsResult> {
  const { opts, nats } = ctx;
  const w = await Worker.start("ceiling", "ceiling.ts");
  const pids = { nats: nats.pid ?? -1, client: w.pid };
  const durationMs = opts.durationSec * 1000;
  const streams = { from: "BENCH_A", to: "BENCH_B", fromPrefix: "bench_a", toPrefix: "bench_b" };
  try {
    note(`ceilings: JetStream publish with msgID for ${opts.durationSec}s`);
    let a = snapshot(pids);
    const pub = await w.call<{ acked: number; failed: number; ms: number }>("publish", {
      url: nats.url,
      stream: streams.from,
      prefix: streams.fromPrefix,
      durationMs,
      payloadBytes: opts.payloadBytes + ENVELOPE_OVERHEAD,
      channels: opts.channels,
    }, (f) => progress(`ceilings: publish ${fmtCount(f.acked as number)} acked`));
    const publish: Ceiling = { perSec: perSecond(pub.acked, pub.ms), count: pub.acked, ms: pub.ms, failed: pub.failed, cpu: usage(a, snapshot(pids)) };
    note(`ceilings: publish ${fmtCount(publish.perSec)}/s; relay hop (consume → publish with msgID → ack after PubAck) for ${opts.durationSec}s`);
    a = snapshot(pids);
    const r = await w.call<{ relayed: number; failed: number; ms: number; exhausted: boolean }>("relay", {
      url: nats.url,
      ...streams,
      durationMs,
    }, (f) => progress(`ceilings: relay ${fmtCount(f.relayed as number)} relayed`));
    const relay = { perSec: perSecond(r.relayed, r.ms), count: r.relayed, ms: r.ms, failed: r.failed, exhausted: r.exhausted, cpu: usage(a, snapshot(pids)) };
    note(`ceilings: relay ${fmtCount(relay.perSec)}/s${relay.exhausted ? " (ran out of input early: measured over what there was)" : ""}`);
    await w.call("drop", { url: nats.url, streams: [streams.from, streams.to] });
    return { publish, relay };
  } finally {
    await w.stop();
  }
}

/**
 * Phase 4: one channel to many subscribers. The publisher keeps a few events
 * in flight (never more than FANOUT_WINDOW ahead of the slowest total), so the
 * figure is what the server sustains, not how much it can queue. Raw
 * uWebSockets.js (bench/workers/rawws.ts) first, then jetmesh, with the same
 * client process.
 */
import { note } from "../progress.ts";
import { snapshot, usage, type CpuUsage } from "../sampler.ts";
import { fmtCount, perSecond, ratio } from "../stats.ts";
import { Worker } from "../worker.ts";
import { type Ctx, waitShowing } from "./context.ts";

interface Counts {
  sent: number;
  acked: number;
  errors: number;
  delivered: number;
  firstError?: string;
}

export interface FanoutRun {
  deliveriesPerSec: number;
  eventsPerSec: number;
  errors: number;
  firstError?: string;
  cpu: CpuUsage;
}

export interface FanoutResult {
  subscribers: number;
  raw: FanoutRun;
  jetmesh: FanoutRun;
  ratio: number | null;
}

export const FANOUT_WINDOW = 64;

async function measure(ctx: Ctx, name: string, publishUrl: string, subscribeUrl: string, serverPids: Record<string, number>): Promise<FanoutRun> {
  const { opts } = ctx;
  const tag = ctx.tag("f");
  const lg = await Worker.start("loadgen", "loadgen.ts");
  const pids = { ...serverPids, loadgen: lg.pid };
  try {
    await lg.call("open", {
      tag,
      channels: [`fan.${tag}`],
      subsPerChannel: opts.fanoutSubscribers,
      publishUrl,
      subscribeUrl,
      publishers: 1,
      payloadBytes: opts.payloadBytes,
      // Counting is the client's whole job here; parsing 500k frames/s would make the client the bound sooner.
      parse: false,
    });
    await lg.call("run", { window: FANOUT_WINDOW, backlog: FANOUT_WINDOW });
    const status = (what: string) => async () => {
      const c = await lg.call<Counts>("counts");
      return `fan-out ${name} ${what}: ${fmtCount(c.acked)} events, ${fmtCount(c.delivered)} deliveries, errors ${c.errors}`;
    };
    await waitShowing(opts.warmupSec * 1000, status("warm-up"));
    const c0 = await lg.call<Counts>("counts");
    const s0 = snapshot(pids);
    await waitShowing(opts.durationSec * 1000, status("window"));
    const c1 = await lg.call<Counts>("counts");
    const s1 = snapshot(pids);
    await lg.call("halt");
    const ms = s1.t - s0.t;
    return {
      deliveriesPerSec: perSecond(c1.delivered - c0.delivered, ms),
      eventsPerSec: perSecond(c1.acked - c0.acked, ms),
      errors: c1.errors,
      firstError: c1.firstError,
      cpu: usage(s0, s1),
    };
  } finally {
    await lg.call("close").catch(() => {});
    await lg.stop();
  }
}

export async function fanout(ctx: Ctx): Promise<FanoutResult> {
  const n = ctx.opts.fanoutSubscribers;
  note(`fan-out: 1 channel → ${n} subscribers, raw uWebSockets.js then jetmesh (${ctx.opts.warmupSec}s warm-up + ${ctx.opts.durationSec}s each)`);
  const raw = await Worker.start("rawws", "rawws.ts");
  let rawRun: FanoutRun;
  try {
    const { port } = await raw.call<{ port: number }>("start");
    const url = `ws://127.0.0.1:${port}/`;
    rawRun = await measure(ctx, "raw uWS", url, url, { rawws: raw.pid });
  } finally {
    await raw.stop();
  }
  note(`fan-out raw uWS: ${fmtCount(rawRun.deliveriesPerSec)} deliveries/s`);
  const pids = { ...ctx.stack.pids(), nats: ctx.nats.pid ?? -1 };
  const jet = await measure(ctx, "jetmesh", ctx.stack.ingestWs, ctx.stack.notifyWs, pids);
  note(`fan-out jetmesh: ${fmtCount(jet.deliveriesPerSec)} deliveries/s (${fmtCount(jet.eventsPerSec)} events/s)`);
  return { subscribers: n, raw: rawRun, jetmesh: jet, ratio: ratio(jet.deliveriesPerSec, rawRun.deliveriesPerSec) };
}

/**
 * Phase 4: one channel to many subscribers. The publisher keeps a few events
 * in flight (never more than FANOUT_WINDOW ahead of the subscribers in
 * total), so the figure is what the server sustains, not how much it can
 * queue. Raw uWebSockets.js (bench/workers/rawws.ts) and jetmesh are served
 * by the same client process, in alternating slices.
 */
import { note } from "../progress.ts";
import type { CpuUsage } from "../sampler.ts";
import { fmtCount, perSecond, ratio } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Counts } from "../workers/loadgen.ts";
import type { Ctx } from "./context.ts";
import { delta, interleave, loadgenTarget, sliceOptions } from "./slices.ts";

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

const FANOUT_WINDOW = 64;

export async function fanout(ctx: Ctx): Promise<FanoutResult> {
  const { opts } = ctx;
  const n = opts.fanoutSubscribers;
  note(
    `fan-out: 1 channel → ${n} subscribers, raw uWebSockets.js and jetmesh alternating ${opts.rounds}× (${opts.durationSec}s each in all)`,
  );
  const raw = await Worker.start("rawws", "rawws.ts");
  const lg = await Worker.start("loadgen", "loadgen.ts");
  try {
    const { port } = await raw.call<{ port: number }>("start");
    const rawUrl = `ws://127.0.0.1:${port}/`;
    const target = (name: string, pids: Record<string, number>) =>
      loadgenTarget<Counts>(
        lg,
        name,
        { ...pids, loadgen: lg.pid },
        () => lg.call("run", { name, window: FANOUT_WINDOW, backlog: FANOUT_WINDOW }),
        (c, what) =>
          `fan-out ${name} ${what}: ${fmtCount(c.acked)} events, ${
            fmtCount(c.delivered)
          } deliveries, errors ${c.errors}`,
      );
    const targets = [
      target("raw uWS", { rawws: raw.pid }),
      target("jetmesh", { ...ctx.stack.pids(), nats: ctx.nats.pid ?? -1 }),
    ];
    const token = await ctx.stack.token("bench-fanout");
    for (
      const [t, pub, sub, tok] of [[targets[0], rawUrl, rawUrl, undefined], [
        targets[1],
        ctx.stack.ingestWs,
        ctx.stack.notifyWs,
        token,
      ]] as const
    ) {
      const tag = ctx.tag("f");
      await lg.call("open", {
        name: t.name,
        tag,
        channels: [`fan.${tag}`],
        subsPerChannel: n,
        publishUrl: pub,
        subscribeUrl: sub,
        token: tok,
        publishers: 1,
        payloadBytes: opts.payloadBytes,
        // Counting is the client's whole job here; parsing 500k frames/s would make the
        // client the bound sooner.
        parse: false,
      });
    }
    const sliced = await interleave(targets, sliceOptions(opts));
    const run = async (name: string): Promise<FanoutRun> => {
      const s = sliced.get(name)!;
      const last = await lg.call<Counts>("counts", { name });
      return {
        deliveriesPerSec: perSecond(delta(s, (c) => c.delivered), s.ms),
        eventsPerSec: perSecond(delta(s, (c) => c.acked), s.ms),
        errors: last.errors,
        firstError: last.firstError,
        cpu: s.cpu,
      };
    };
    const rawRun = await run("raw uWS");
    const jet = await run("jetmesh");
    note(
      `fan-out: raw uWS ${fmtCount(rawRun.deliveriesPerSec)} deliveries/s, jetmesh ${
        fmtCount(jet.deliveriesPerSec)
      } deliveries/s (${fmtCount(jet.eventsPerSec)} events/s)`,
    );
    return {
      subscribers: n,
      raw: rawRun,
      jetmesh: jet,
      ratio: ratio(jet.deliveriesPerSec, rawRun.deliveriesPerSec),
    };
  } finally {
    await lg.call("close", { name: "raw uWS" }).catch(() => {});
    await lg.call("close", { name: "jetmesh" }).catch(() => {});
    await lg.stop();
    await raw.stop();
  }
}

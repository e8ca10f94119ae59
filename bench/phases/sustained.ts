/**
 * Phase 2: jetmesh's sustained throughput. Publishers send as fast as ingest
 * acks them, but never more than `backlog` events ahead of the subscribers, so
 * over the window every stage runs at the rate the whole pipeline sustains.
 * Acked (ingest), committed (PostgreSQL rows) and delivered (subscribers) are
 * counted over the same window. Because of the backlog cap they come out
 * equal by construction: what limits the pipeline is the stages phase's to
 * show (stages.ts, each stage alone).
 */
import { note, progress } from "../progress.ts";
import { type CpuUsage, snapshot, usage } from "../sampler.ts";
import { fmtCount, perSecond } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Counts } from "../workers/loadgen.ts";
import { committedRows, type Ctx, sec, waitShowing } from "./context.ts";

export interface SustainedResult {
  channels: number;
  publishers: number;
  window: number;
  backlog: number;
  ackedPerSec: number;
  committedPerSec: number;
  deliveredPerSec: number;
  errors: number;
  firstError?: string;
  /** Deliveries out of order within a channel, or repeated: must be 0. */
  orderViolations: number;
  /** After the load stopped: how long until every acked event was delivered and stored. */
  drainMs: number;
  drained: boolean;
  cpu: CpuUsage;
  /**
   * nats-server's own count of client messages in (publishes, acks, pull and API requests) and
   * out (deliveries, replies) per second of the window, from /varz.
   */
  server?: { inMsgsPerSec: number; outMsgsPerSec: number };
}

interface Varz {
  in_msgs: number;
  out_msgs: number;
}

const BACKLOG = 8192;

export async function sustained(ctx: Ctx): Promise<SustainedResult> {
  return await sustainedWindow(ctx, "sustained", {});
}

/**
 * One sustained measurement, its progress lines headed `label`; `extraPids` are processes
 * beside the stack's whose CPU counts too (the replicas phase's second route), and `settle`
 * runs under load after the warm-up, before the window opens.
 */
export async function sustainedWindow(
  ctx: Ctx,
  label: string,
  extraPids: Record<string, number>,
  settle: () => Promise<void> = async () => {},
): Promise<SustainedResult> {
  const { opts, stack } = ctx;
  const tag = ctx.tag("s");
  const channels = Array.from({ length: opts.channels }, (_, i) => `bench.${tag}.c${i}`);
  const lg = await Worker.start("loadgen", "loadgen.ts");
  const token = await stack.token("bench-loadgen");
  const pids = { ...stack.pids(), ...extraPids, nats: ctx.nats.pid ?? -1, loadgen: lg.pid };
  try {
    const base = await committedRows(ctx);
    await lg.call("open", {
      tag,
      channels,
      publishUrl: stack.ingestWs,
      subscribeUrl: stack.notifyWs,
      token,
      publishers: opts.publishers,
      payloadBytes: opts.payloadBytes,
    });
    note(
      `${label}: ${opts.publishers} publishers × window ${opts.window}, ${opts.channels} channels, ${opts.payloadBytes} B; warm-up ${opts.warmupSec}s, then ${opts.durationSec}s`,
    );
    await lg.call("run", { window: opts.window, backlog: BACKLOG });
    const status = (what: string) => async () => {
      const c = await lg.call<Counts>("counts");
      return `${label} ${what}: acked ${fmtCount(c.acked)} delivered ${
        fmtCount(c.delivered)
      } errors ${c.errors}`;
    };
    await waitShowing(opts.warmupSec * 1000, status("warm-up"));
    await settle();
    const c0 = await lg.call<Counts>("counts");
    const r0 = await committedRows(ctx);
    const v0 = await ctx.nats.monitor<Varz>("/varz");
    const s0 = snapshot(pids);
    await waitShowing(opts.durationSec * 1000, status(`window ${sec(opts.durationSec * 1000)}`));
    const c1 = await lg.call<Counts>("counts");
    const r1 = await committedRows(ctx);
    const s1 = snapshot(pids);
    const v1 = await ctx.nats.monitor<Varz>("/varz");
    const halted = await lg.call<Counts>("halt");
    const ms = s1.t - s0.t;
    // Drain: everything acked must reach the subscribers and the table.
    const drainStart = performance.now();
    const drained = await lg.call<Counts>(
      "drain",
      { timeoutMs: 60_000 },
      (f) =>
        progress(
          `${label}: draining, delivered ${fmtCount(f.delivered as number)} of ${
            fmtCount(f.expected as number)
          }`,
        ),
    );
    let rows = await committedRows(ctx);
    while (rows - base < drained.acked && performance.now() - drainStart < 60_000) {
      progress(
        `${label}: draining, stored ${fmtCount(rows - base)} of ${fmtCount(drained.acked)}`,
      );
      await new Promise((r) => setTimeout(r, 250));
      rows = await committedRows(ctx);
    }
    const drainMs = performance.now() - drainStart;
    const result: SustainedResult = {
      channels: opts.channels,
      publishers: opts.publishers,
      window: opts.window,
      backlog: BACKLOG,
      ackedPerSec: perSecond(c1.acked - c0.acked, ms),
      committedPerSec: perSecond(r1 - r0, ms),
      deliveredPerSec: perSecond(c1.delivered - c0.delivered, ms),
      errors: drained.errors,
      firstError: drained.firstError,
      orderViolations: drained.violations,
      drainMs,
      drained: drained.delivered >= drained.acked && rows - base >= drained.acked &&
        halted.sent === drained.acked + drained.errors,
      cpu: usage(s0, s1),
      server: {
        inMsgsPerSec: perSecond(v1.in_msgs - v0.in_msgs, ms),
        outMsgsPerSec: perSecond(v1.out_msgs - v0.out_msgs, ms),
      },
    };
    note(
      `${label}: acked ${fmtCount(result.ackedPerSec)}/s, committed ${
        fmtCount(result.committedPerSec)
      }/s, delivered ${fmtCount(result.deliveredPerSec)}/s; ` +
        `drained in ${(drainMs / 1000).toFixed(1)}s${
          result.drained ? "" : " (NOT fully)"
        }; order violations ${result.orderViolations}`,
    );
    return result;
  } finally {
    await lg.call("close").catch(() => {});
    await lg.stop();
  }
}

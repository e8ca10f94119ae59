/**
 * Phase 8 (issue 14): jetmesh next to its peers, Centrifugo v6 and Socket.IO 4 (on `ws` and on
 * uWebSockets.js), in one run, on this machine, with the same load generator (one loadgen
 * process speaking each protocol, bench/workers/protocols.ts). Per system:
 *
 * - fan-out, 1 channel → N subscribers: CPU of the server's processes per delivery. The
 *   deliveries/s are bound by the load generator (one process, one core at most), so the
 *   servers are compared by what a delivery costs them, not by how many they made;
 * - publish→deliver p50/p99 at each offered rate, over the latency phase's channels;
 * - memory per idle subscribed connection, ramped as the idle phase does.
 *
 * The systems take turns in slices (bench/phases/slices.ts) so load from other users falls on
 * all alike. A peer that cannot start (no Centrifugo binary) is reported as not run.
 */
import { note } from "../progress.ts";
import {
  centrifugoSystem,
  GUARANTEES,
  jetmeshSystem,
  LABELS,
  socketioSystem,
  type System,
  type SystemKey,
  tryStart,
} from "../peers/systems.ts";
import { fmtCount, perSecond, summarize } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Counts } from "../workers/loadgen.ts";
import type { Ctx } from "./context.ts";
import type { IdleResult } from "./idle.ts";
import { peersIdle } from "./peers-idle.ts";
import { delta, interleave, loadgenTarget, sliceOptions } from "./slices.ts";

export interface PeerFanout {
  deliveriesPerSec: number;
  /** Cores used by the server's processes, by process. */
  cores: Record<string, number>;
  /** Microseconds of server CPU per delivery (all its processes). */
  cpuUsPerDelivery: number;
  errors: number;
  firstError?: string;
}

export interface PeerLatency {
  rate: number;
  p50: number;
  p99: number;
  samples: number;
  sent: number;
  errors: number;
  firstError?: string;
}

export interface PeerIdle {
  bytesPerConnection: number;
  connections: number;
  failed: number;
  firstError?: string;
  /** Where jetmesh's figure comes from: this phase, or the same run's idle phase. */
  source?: string;
}

export interface PeerRow {
  key: SystemKey;
  label: string;
  guarantees: string;
  /** Why the system was not measured; its figures are then absent. */
  notRun?: string;
  fanout?: PeerFanout;
  latency: PeerLatency[];
  idle?: PeerIdle;
}

export interface PeersResult {
  fanoutSubscribers: number;
  latencyChannels: number;
  rows: PeerRow[];
}

const FANOUT_WINDOW = 64;

/** µs of CPU per delivery from the cores the server's processes used and the deliveries/s. */
export function cpuUsPerDelivery(cores: Record<string, number>, deliveriesPerSec: number): number {
  const total = Object.values(cores).reduce((a, b) => a + b, 0);
  return deliveriesPerSec > 0 ? (total / deliveriesPerSec) * 1e6 : NaN;
}

function target(lg: Worker, sys: System, run: Record<string, unknown>, what: string) {
  return loadgenTarget<Counts>(
    lg,
    sys.key,
    { ...sys.pids },
    () => lg.call("run", { name: sys.key, ...run }),
    (c, when) =>
      `peers ${what} ${LABELS[sys.key]} ${when}: sent ${fmtCount(c.sent)} delivered ${
        fmtCount(c.delivered)
      } errors ${c.errors}`,
  );
}

/** A system that failed mid-phase: its row says so instead of the bench failing. */
type Fail = (key: SystemKey, why: string) => void;

/** Opens each system's scenario; those that cannot open are failed and left out. */
async function openEach(
  lg: Worker,
  systems: System[],
  fail: Fail,
  args: (sys: System) => Record<string, unknown>,
): Promise<System[]> {
  const ok: System[] = [];
  for (const sys of systems) {
    try {
      await lg.call("open", {
        name: sys.key,
        protocol: sys.protocol,
        publishUrl: sys.publishUrl,
        subscribeUrl: sys.subscribeUrl,
        token: sys.token,
        publishers: 1,
        ...args(sys),
      });
      ok.push(sys);
    } catch (err) {
      await lg.call("close", { name: sys.key }).catch(() => {});
      fail(sys.key, (err as Error).message.split("\n")[0]);
    }
  }
  return ok;
}

async function fanout(
  ctx: Ctx,
  lg: Worker,
  all: System[],
  fail: Fail,
): Promise<Map<SystemKey, PeerFanout>> {
  const n = ctx.opts.fanoutSubscribers;
  note(`peers fan-out: 1 channel → ${n} subscribers, ${all.length} systems alternating`);
  const systems = await openEach(lg, all, fail, (sys) => {
    const tag = ctx.tag("pf");
    return {
      tag,
      channels: [sys.channel(`fan.${tag}`)],
      subsPerChannel: n,
      payloadBytes: ctx.opts.payloadBytes,
      // Counting is the client's whole job here, as in the fan-out phase.
      parse: false,
    };
  });
  const run = { window: FANOUT_WINDOW, backlog: FANOUT_WINDOW };
  const sliced = await interleave(
    systems.map((s) => target(lg, s, run, "fan-out")),
    sliceOptions(ctx.opts),
  );
  const out = new Map<SystemKey, PeerFanout>();
  for (const sys of systems) {
    const s = sliced.get(sys.key)!;
    const last = await lg.call<Counts>("counts", { name: sys.key });
    await lg.call("close", { name: sys.key });
    const deliveriesPerSec = perSecond(delta(s, (c) => c.delivered), s.ms);
    out.set(sys.key, {
      deliveriesPerSec,
      cores: s.cpu.cores,
      cpuUsPerDelivery: cpuUsPerDelivery(s.cpu.cores, deliveriesPerSec),
      errors: last.errors,
      firstError: last.firstError,
    });
  }
  return out;
}

async function latencyAt(
  ctx: Ctx,
  lg: Worker,
  all: System[],
  fail: Fail,
  rate: number,
): Promise<Map<SystemKey, PeerLatency>> {
  note(
    `peers latency @ ${
      fmtCount(rate)
    }/s over ${ctx.opts.channels} channels, ${all.length} systems alternating`,
  );
  const systems = await openEach(lg, all, fail, (sys) => {
    const tag = ctx.tag("pl");
    return {
      tag,
      channels: Array.from(
        { length: ctx.opts.channels },
        (_, i) => sys.channel(`lat.${tag}.c${i}`),
      ),
      payloadBytes: ctx.opts.payloadBytes,
    };
  });
  const sliced = await interleave(
    systems.map((s) => ({
      ...target(lg, s, { rate }, `latency @ ${fmtCount(rate)}/s`),
      // Latency samples count for events sent from the mark until the halt.
      begin: () => lg.call("mark", { name: s.key }),
    })),
    sliceOptions(ctx.opts),
  );
  const out = new Map<SystemKey, PeerLatency>();
  for (const sys of systems) {
    const s = sliced.get(sys.key)!;
    const last = await lg.call<Counts>("counts", { name: sys.key });
    const samples = await lg.call<number[]>("samples", { name: sys.key });
    await lg.call("close", { name: sys.key });
    const sum = summarize(samples);
    out.set(sys.key, {
      rate,
      p50: sum.p50,
      p99: sum.p99,
      samples: sum.count,
      sent: delta(s, (c) => c.sent),
      errors: last.errors,
      firstError: last.firstError,
    });
  }
  return out;
}

const PEERS = [
  ["centrifugo", () => centrifugoSystem()],
  ["sio-ws", () => socketioSystem("ws")],
  ["sio-uws", () => socketioSystem("uws")],
] as const;

export async function peers(ctx: Ctx, idle?: IdleResult): Promise<PeersResult> {
  const rows = new Map<SystemKey, PeerRow>();
  const row = (key: SystemKey, notRun?: string): PeerRow => ({
    key,
    label: LABELS[key],
    guarantees: GUARANTEES[key],
    notRun,
    latency: [],
  });
  const systems: System[] = [jetmeshSystem(ctx, await ctx.stack.token("bench-peers"))];
  rows.set("jetmesh", row("jetmesh"));
  for (const [key, start] of PEERS) {
    const r = await tryStart(start);
    rows.set(key, row(key, r.notRun));
    if (r.system) systems.push(r.system);
    else note(`peers: ${LABELS[key]} not run: ${r.notRun}`);
  }
  const fail: Fail = (key, why) => {
    note(`peers: ${LABELS[key]} failed: ${why}`);
    rows.get(key)!.notRun = `failed: ${why}`;
  };
  const live = () => systems.filter((s) => rows.get(s.key)!.notRun === undefined);
  const lg = await Worker.start("loadgen", "loadgen.ts");
  try {
    for (const [key, f] of await fanout(ctx, lg, live(), fail)) rows.get(key)!.fanout = f;
    for (const rate of ctx.opts.rates) {
      for (const [key, l] of await latencyAt(ctx, lg, live(), fail, rate)) {
        rows.get(key)!.latency.push(l);
      }
    }
  } finally {
    await lg.stop();
    for (const s of systems) await s.stop();
  }
  // Idle ramps on fresh server processes, one system at a time.
  for (const [key, i] of await peersIdle(ctx, [...rows.values()], idle)) rows.get(key)!.idle = i;
  return {
    fanoutSubscribers: ctx.opts.fanoutSubscribers,
    latencyChannels: ctx.opts.channels,
    rows: [...rows.values()],
  };
}

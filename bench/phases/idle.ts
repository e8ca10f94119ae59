/**
 * Phase 5: memory per idle subscriber connection. Each connection opens,
 * subscribes to a channel of its own and stays silent. The cost of one is the
 * slope of the server's RSS over the number of connections, sampled while
 * they open: a garbage collection or heap growth step at the end would sway a
 * plain before/after difference. Raw uWebSockets.js (each socket on a topic of
 * its own) and a freshly started notify are measured with the same clients,
 * which run in processes of their own because every process is held to the
 * same file-descriptor limit.
 */
import { note, progress } from "../progress.ts";
import { fdLimits, rssBytes } from "../proc.ts";
import { fmtBytes, fmtCount, ratio, slope } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Ctx } from "./context.ts";

export interface IdleRun {
  connections: number;
  failed: number;
  firstError?: string;
  connectMs: number;
  rssBefore: number;
  rssAfter: number;
  /** Slope of RSS over connections while they opened, from SLOPE_FROM of them on. */
  bytesPerConnection: number;
  /** (rssAfter - rssBefore) / connections, for comparison. */
  deltaPerConnection: number;

  samples: number;
  /** [connections, RSS] as sampled, for a look at the curve. */
  points: Array<[number, number]>;
  /** RSS growth of other processes over the same interval (nats-server for jetmesh). */
  othersRssGrowth: Record<string, number>;
}

export interface IdleResult {
  wanted: number;
  /** Connections each server process was asked to hold: the wanted count, or less when the fd limit forbids it. */
  attempted: number;
  fdLimit: { soft: number; hard: number };
  /** The ramp with the median figure, of each server. */
  raw: IdleRun;
  jetmesh: IdleRun;
  /** Bytes per connection of every ramp. */
  ramps: { raw: number[]; jetmesh: number[] };
  ratio: number | null;
}

/** Descriptors a server needs besides its connections: listen sockets, NATS, PostgreSQL, stdio, epoll, libuv. */
const SERVER_FD_RESERVE = 150;
const CLIENTS_PER_PROCESS = 8000;
const SETTLE_MS = 3000;
const CONNECT_DEADLINE_MS = 240_000;

/** Connections opened and closed before measuring, so that first-use costs (JIT, buffers) are behind. */
const WARM_UP_CONNECTIONS = 500;
/**
 * The slope leaves out the first quarter of the ramp. A JS server that takes
 * thousands of subscriptions at once grows V8's young generation to its limit
 * early on (two 16 MiB semi-spaces on Node 20): a step of up to 16 MiB, once
 * per process, whatever the number of connections, which any process that has
 * served load has already taken. The plain difference keeps it, for comparison.
 */
const SLOPE_FROM = 0.25;

async function hold(ctx: Ctx, name: string, url: string, serverPid: number, count: number, others: Record<string, number> = {}): Promise<IdleRun> {
  const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));
  const shares = Math.ceil(count / CLIENTS_PER_PROCESS);
  const clients = await Promise.all(Array.from({ length: shares }, () => Worker.start("idle-clients", "loadgen.ts")));
  progress(`idle ${name}: warming up`);
  await clients[0].call("idleOpen", { url, count: WARM_UP_CONNECTIONS, channelPrefix: `warm.${ctx.tag("w")}.` });
  await clients[0].call("idleClose");
  await settle();
  const rssBefore = rssBytes(serverPid) ?? NaN;
  const othersBefore = Object.fromEntries(Object.entries(others).map(([k, pid]) => [k, rssBytes(pid) ?? NaN]));
  const tag = ctx.tag("i");
  const open = new Array<number>(shares).fill(0);
  const points: Array<[number, number]> = [[0, rssBefore]];
  let opening = true;
  const sampling = (async () => {
    while (opening) {
      await new Promise((r) => setTimeout(r, 250));
      const rss = rssBytes(serverPid);
      if (rss !== undefined) points.push([open.reduce((a, b) => a + b, 0), rss]);
    }
  })();
  try {
    const results = await Promise.all(clients.map((w, i) => {
      const first = i * CLIENTS_PER_PROCESS;
      const n = Math.min(CLIENTS_PER_PROCESS, count - first);
      return w.call<{ open: number; failed: number; firstError?: string; ms: number }>(
        "idleOpen",
        { url, count: n, first, channelPrefix: `idle.${tag}.`, deadlineMs: CONNECT_DEADLINE_MS },
        (f) => {
          open[i] = f.open as number;
          progress(`idle ${name}: ${fmtCount(open.reduce((a, b) => a + b, 0))} of ${fmtCount(count)} connected and subscribed`);
        },
      );
    }));
    opening = false;
    await sampling;
    await settle();
    const rssAfter = rssBytes(serverPid) ?? NaN;
    const othersRssGrowth = Object.fromEntries(Object.entries(others).map(([k, pid]) => [k, (rssBytes(pid) ?? NaN) - othersBefore[k]]));
    const connections = results.reduce((a, r) => a + r.open, 0);
    points.push([connections, rssAfter]);
    return {
      connections,
      failed: results.reduce((a, r) => a + r.failed, 0),
      firstError: results.find((r) => r.firstError)?.firstError,
      connectMs: Math.max(...results.map((r) => r.ms)),
      rssBefore,
      rssAfter,
      bytesPerConnection: slope(points.filter(([n]) => n >= connections * SLOPE_FROM)),
      deltaPerConnection: connections > 0 ? (rssAfter - rssBefore) / connections : NaN,
      samples: points.length,
      points,
      othersRssGrowth,
    };
  } finally {
    await Promise.all(clients.map(async (w) => {
      await w.call("idleClose").catch(() => {});
      await w.stop();
    }));
  }
}

/** The run whose per-connection figure is the median of the ramps. */
function median(runs: IdleRun[]): IdleRun {
  const sorted = [...runs].sort((a, b) => a.bytesPerConnection - b.bytesPerConnection);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export async function idle(ctx: Ctx): Promise<IdleResult> {
  const wanted = ctx.opts.idleConnections;
  const fdLimit = fdLimits();
  const attempted = Math.min(wanted, fdLimit.soft - SERVER_FD_RESERVE);
  // Full runs ramp three times on fresh processes, alternating, and keep the median: one ramp's figure moves with where GC and the allocators happen to step.
  const ramps = ctx.opts.quick ? 1 : 3;
  note(
    `idle: ${fmtCount(attempted)} subscriber connections` +
      (attempted < wanted ? ` (of ${fmtCount(wanted)} wanted: a server process may hold ${fdLimit.soft} descriptors in all)` : "") +
      `, raw uWebSockets.js and a fresh notify, ${ramps} ramp${ramps > 1 ? "s" : ""} each`,
  );
  const raws: IdleRun[] = [];
  const jets: IdleRun[] = [];
  for (let i = 0; i < ramps; i++) {
    const raw = await Worker.start("rawws", "rawws.ts");
    try {
      const { port } = await raw.call<{ port: number }>("start");
      raws.push(await hold(ctx, "raw uWS", `ws://127.0.0.1:${port}/`, raw.pid, attempted));
    } finally {
      await raw.stop();
    }
    // A fresh process, so the figure is not blurred by what earlier phases left in its heap.
    await ctx.stack.restart("notify");
    jets.push(await hold(ctx, "jetmesh", ctx.stack.notifyWs, ctx.stack.pids().notify, attempted, { nats: ctx.nats.pid ?? -1 }));
    note(`idle ramp ${i + 1}/${ramps}: raw uWS ${fmtBytes(raws[i].bytesPerConnection)}, jetmesh ${fmtBytes(jets[i].bytesPerConnection)} per connection (nats-server grew ${fmtBytes(jets[i].othersRssGrowth.nats)})`);
  }
  const raw = median(raws);
  const jetmesh = median(jets);
  return {
    wanted,
    attempted,
    fdLimit,
    raw,
    jetmesh,
    ramps: { raw: raws.map((r) => r.bytesPerConnection), jetmesh: jets.map((r) => r.bytesPerConnection) },
    ratio: ratio(jetmesh.bytesPerConnection, raw.bytesPerConnection),
  };
}

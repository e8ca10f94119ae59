/**
 * Phase 5: memory per idle subscriber connection. Each connection opens,
 * subscribes to a channel of its own and stays silent; the server's RSS growth
 * divided by the connections is the cost of one. Raw uWebSockets.js (each
 * socket on a topic of its own) and a freshly started notify are measured with
 * the same clients, which run in processes of their own because every process
 * is held to the same file-descriptor limit.
 */
import { note, progress } from "../progress.ts";
import { fdLimits, rssBytes } from "../proc.ts";
import { fmtBytes, fmtCount, ratio } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Ctx } from "./context.ts";

export interface IdleRun {
  connections: number;
  failed: number;
  firstError?: string;
  connectMs: number;
  rssBefore: number;
  rssAfter: number;
  bytesPerConnection: number;
  /** RSS growth of other processes over the same interval (nats-server for jetmesh). */
  othersRssGrowth: Record<string, number>;
}

export interface IdleResult {
  wanted: number;
  /** Connections each server process was asked to hold: the wanted count, or less when the fd limit forbids it. */
  attempted: number;
  fdLimit: { soft: number; hard: number };
  raw: IdleRun;
  jetmesh: IdleRun;
  ratio: number | null;
}

/** Descriptors a server needs besides its connections: listen sockets, NATS, PostgreSQL, stdio, epoll, libuv. */
const SERVER_FD_RESERVE = 150;
const CLIENTS_PER_PROCESS = 8000;
const SETTLE_MS = 3000;
const CONNECT_DEADLINE_MS = 240_000;

async function hold(ctx: Ctx, name: string, url: string, serverPid: number, count: number, others: Record<string, number> = {}): Promise<IdleRun> {
  const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));
  await settle();
  const rssBefore = rssBytes(serverPid) ?? NaN;
  const othersBefore = Object.fromEntries(Object.entries(others).map(([k, pid]) => [k, rssBytes(pid) ?? NaN]));
  const tag = ctx.tag("i");
  const shares = Math.ceil(count / CLIENTS_PER_PROCESS);
  const clients = await Promise.all(Array.from({ length: shares }, () => Worker.start("idle-clients", "loadgen.ts")));
  const open = new Array<number>(shares).fill(0);
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
    await settle();
    const rssAfter = rssBytes(serverPid) ?? NaN;
    const othersRssGrowth = Object.fromEntries(Object.entries(others).map(([k, pid]) => [k, (rssBytes(pid) ?? NaN) - othersBefore[k]]));
    const connections = results.reduce((a, r) => a + r.open, 0);
    return {
      connections,
      failed: results.reduce((a, r) => a + r.failed, 0),
      firstError: results.find((r) => r.firstError)?.firstError,
      connectMs: Math.max(...results.map((r) => r.ms)),
      rssBefore,
      rssAfter,
      bytesPerConnection: connections > 0 ? (rssAfter - rssBefore) / connections : NaN,
      othersRssGrowth,
    };
  } finally {
    await Promise.all(clients.map(async (w) => {
      await w.call("idleClose").catch(() => {});
      await w.stop();
    }));
  }
}

export async function idle(ctx: Ctx): Promise<IdleResult> {
  const wanted = ctx.opts.idleConnections;
  const fdLimit = fdLimits();
  const attempted = Math.min(wanted, fdLimit.soft - SERVER_FD_RESERVE);
  note(
    `idle: ${fmtCount(attempted)} subscriber connections` +
      (attempted < wanted ? ` (of ${fmtCount(wanted)} wanted: a server process may hold ${fdLimit.soft} descriptors in all)` : "") +
      ", raw uWebSockets.js then a fresh notify",
  );
  const raw = await Worker.start("rawws", "rawws.ts");
  let rawRun: IdleRun;
  try {
    const { port } = await raw.call<{ port: number }>("start");
    rawRun = await hold(ctx, "raw uWS", `ws://127.0.0.1:${port}/`, raw.pid, attempted);
  } finally {
    await raw.stop();
  }
  note(`idle raw uWS: ${fmtCount(rawRun.connections)} connections, ${fmtBytes(rawRun.bytesPerConnection)} each`);
  // A fresh process, so the figure is not blurred by what earlier phases left in its heap.
  await ctx.stack.restart("notify");
  const jet = await hold(ctx, "jetmesh", ctx.stack.notifyWs, ctx.stack.pids().notify, attempted, { nats: ctx.nats.pid ?? -1 });
  note(`idle jetmesh: ${fmtCount(jet.connections)} connections, ${fmtBytes(jet.bytesPerConnection)} each (nats-server grew ${fmtBytes(jet.othersRssGrowth.nats)})`);
  return { wanted, attempted, fdLimit, raw: rawRun, jetmesh: jet, ratio: ratio(jet.bytesPerConnection, rawRun.bytesPerConnection) };
}

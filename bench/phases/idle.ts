/**
 * Phase 5: memory per idle subscriber connection. Each connection opens,
 * subscribes to a channel of its own and stays silent. Connections open in
 * steps; after each step the server's heap is collected in full (through its
 * inspector) and its RSS read, and the cost of one connection is the median
 * growth per connection over the steps, which one step of the allocators
 * (pages handed back, a table doubling) does not move. Without the collection a sample holds
 * whatever
 * garbage the collector has not reached yet, and V8's young generation grows
 * by up to 32 MiB at some point of a ramp: single ramps moved between 0.84
 * and 3.50 KiB per connection, and once went negative. Raw uWebSockets.js
 * (each socket on a topic of its own) and a freshly started notify are
 * measured the same way with the same clients, which run in processes of
 * their own because every process is held to the same file-descriptor limit.
 */
import { freePort } from "../../devkit/ports.ts";
import { Inspector } from "../inspector.ts";
import { note, progress } from "../progress.ts";
import { fdLimits, rssBytes } from "../proc.ts";
import { fmtBytes, fmtCount, medianStepSlope, ratio } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Ctx } from "./context.ts";

export interface IdleRun {
  connections: number;
  failed: number;
  firstError?: string;
  connectMs: number;
  rssBefore: number;
  rssAfter: number;
  /**
   * Growth of RSS (after a full collection) per connection: the median over the steps of the
   * ramp.
   */
  bytesPerConnection: number;
  /** (rssAfter - rssBefore) / connections, for comparison. */
  deltaPerConnection: number;

  samples: number;
  /** [connections, RSS after a full collection] at each step. */
  points: Array<[number, number]>;
  /** RSS growth of other processes over the same interval (nats-server for jetmesh). */
  othersRssGrowth: Record<string, number>;
}

export interface IdleResult {
  wanted: number;
  /**
   * Connections each server process was asked to hold: the wanted count, or less when the fd
   * limit forbids it.
   */
  attempted: number;
  fdLimit: { soft: number; hard: number };
  /** The ramp with the median figure, of each server. */
  raw: IdleRun;
  jetmesh: IdleRun;
  /** Bytes per connection of every ramp. */
  ramps: { raw: number[]; jetmesh: number[] };
  ratio: number | null;
}

/**
 * Descriptors a server needs besides its connections: listen sockets, NATS, PostgreSQL, stdio,
 * epoll, libuv.
 */
const SERVER_FD_RESERVE = 150;
const CLIENTS_PER_PROCESS = 8000;
/**
 * After a full collection, before reading RSS: V8 hands freed pages back to the system from a
 * background thread.
 */
const SETTLE_MS = 1000;
/** Enough in QUICK mode, where every second counts; the full run waits longer to be sure. */
const QUICK_SETTLE_MS = 400;
const CONNECT_DEADLINE_MS = 240_000;
/**
 * Connections opened and closed before measuring, so that first-use costs (JIT, buffers) are
 * behind.
 */
const WARM_UP_CONNECTIONS = 500;
/** Samples along the ramp, besides the one before it. */
const STEPS = 10;

export interface Server {
  pid: number;
  /** Node servers collect in full through it before each reading. */
  inspector?: Inspector;
  /** Or this collects (Centrifugo, Go: runtime.GC through pprof). */
  collect?: () => Promise<void>;
}

async function rssAfterCollection(server: Server, settleMs: number): Promise<number> {
  await server.inspector?.collectGarbage();
  await server.collect?.();
  await new Promise((r) => setTimeout(r, settleMs));
  return rssBytes(server.pid) ?? NaN;
}

interface HoldOptions {
  /** Other processes whose RSS growth is reported (nats-server for jetmesh). */
  others?: Record<string, number>;
  /**
   * Mints the token each client process presents on all its connections; none for the raw
   * server.
   */
  mint?: (sub: string) => Promise<string>;
  /** The clients' wire protocol (bench/workers/protocols.ts); jetmesh's by default. */
  protocol?: string;
  /** The server's name for a channel (Centrifugo's carry its namespace); as is by default. */
  channel?: (name: string) => string;
}

export async function hold(
  ctx: Ctx,
  name: string,
  url: string,
  server: Server,
  count: number,
  o: HoldOptions = {},
): Promise<IdleRun> {
  const others = o.others ?? {};
  const settleMs = ctx.opts.quick ? QUICK_SETTLE_MS : SETTLE_MS;
  const shares = Math.ceil(count / CLIENTS_PER_PROCESS);
  const clients = await Promise.all(
    Array.from({ length: shares }, () => Worker.start("idle-clients", "loadgen.ts")),
  );
  const tokens = await Promise.all(clients.map((_, i) => o.mint?.(`bench-idle-${i}`)));
  progress(`idle ${name}: warming up`);
  await clients[0].call("idleOpen", {
    protocol: o.protocol,
    url,
    token: tokens[0],
    count: WARM_UP_CONNECTIONS,
    channelPrefix: (o.channel ?? String)(`warm.${ctx.tag("w")}.`),
  });
  await clients[0].call("idleClose");
  const rssBefore = await rssAfterCollection(server, settleMs);
  const othersBefore = Object.fromEntries(
    Object.entries(others).map(([k, pid]) => [k, rssBytes(pid) ?? NaN]),
  );
  const tag = ctx.tag("i");
  const points: Array<[number, number]> = [[0, rssBefore]];
  const started = performance.now();
  // Per client process: connections it holds, failures, the first error.
  const held = clients.map(() => ({
    open: 0,
    failed: 0,
    firstError: undefined as string | undefined,
  }));
  try {
    for (let step = 1; step <= STEPS; step++) {
      await Promise.all(clients.map(async (w, i) => {
        const first = i * CLIENTS_PER_PROCESS;
        const share = Math.min(CLIENTS_PER_PROCESS, count - first);
        const upTo = Math.round((share * step) / STEPS);
        const from = Math.round((share * (step - 1)) / STEPS);
        const r = await w.call<{ open: number; failed: number; firstError?: string }>(
          "idleOpen",
          {
            protocol: o.protocol,
            url,
            token: tokens[i],
            count: upTo - from,
            first: first + from,
            channelPrefix: (o.channel ?? String)(`idle.${tag}.`),
            deadlineMs: CONNECT_DEADLINE_MS,
          },
        );
        held[i].open = r.open;
        held[i].failed += r.failed;
        held[i].firstError ??= r.firstError;
      }));
      const open = held.reduce((a, h) => a + h.open, 0);
      progress(`idle ${name}: ${fmtCount(open)} of ${fmtCount(count)} connected and subscribed`);
      points.push([open, await rssAfterCollection(server, settleMs)]);
    }
    const connectMs = performance.now() - started;
    const [connections, rssAfter] = points[points.length - 1];
    const othersRssGrowth = Object.fromEntries(
      Object.entries(others).map(([k, pid]) => [k, (rssBytes(pid) ?? NaN) - othersBefore[k]]),
    );
    return {
      connections,
      failed: held.reduce((a, h) => a + h.failed, 0),
      firstError: held.find((h) => h.firstError)?.firstError,
      connectMs,
      rssBefore,
      rssAfter,
      bytesPerConnection: medianStepSlope(points),
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

/** Connections each server is asked to hold: the wanted count, or what the fd limit allows. */
export function idleAttempted(wanted: number): number {
  return Math.min(wanted, fdLimits().soft - SERVER_FD_RESERVE);
}

/** One ramp on a freshly started notify (with its inspector, for the full collections). */
export async function idleJetmesh(ctx: Ctx, count: number): Promise<IdleRun> {
  const notifyInspect = await freePort();
  await ctx.stack.restart("notify", [`--inspect=127.0.0.1:${notifyInspect}`]);
  const inspector = await Inspector.connect(notifyInspect);
  try {
    const server = { pid: ctx.stack.pids().notify, inspector };
    return await hold(ctx, "jetmesh", ctx.stack.notifyWs, server, count, {
      others: { nats: ctx.nats.pid ?? -1 },
      mint: ctx.stack.token,
    });
  } finally {
    inspector.close();
    // Later phases get notify as it is deployed, without the inspector.
    await ctx.stack.restart("notify");
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
  // Full runs ramp three times on fresh processes, alternating, and keep the median: one
  // ramp's figure moves with where GC and the allocators happen to step.
  const ramps = ctx.opts.quick ? 1 : 3;
  note(
    `idle: ${fmtCount(attempted)} subscriber connections` +
      (attempted < wanted
        ? ` (of ${
          fmtCount(wanted)
        } wanted: a server process may hold ${fdLimit.soft} descriptors in all)`
        : "") +
      `, raw uWebSockets.js and a fresh notify, ${ramps} ramp${ramps > 1 ? "s" : ""} each`,
  );
  const raws: IdleRun[] = [];
  const jets: IdleRun[] = [];
  for (let i = 0; i < ramps; i++) {
    const rawInspect = await freePort();
    const raw = await Worker.start("rawws", "rawws.ts", {
      NODE_OPTIONS: `--inspect=127.0.0.1:${rawInspect}`,
    });
    let inspector = await Inspector.connect(rawInspect);
    try {
      const { port } = await raw.call<{ port: number }>("start");
      raws.push(
        await hold(
          ctx,
          "raw uWS",
          `ws://127.0.0.1:${port}/`,
          { pid: raw.pid, inspector },
          attempted,
        ),
      );
    } finally {
      inspector.close();
      await raw.stop();
    }
    // A fresh process, so the figure is not blurred by what earlier phases left in its heap.
    const notifyInspect = await freePort();
    await ctx.stack.restart("notify", [`--inspect=127.0.0.1:${notifyInspect}`]);
    inspector = await Inspector.connect(notifyInspect);
    try {
      const server = { pid: ctx.stack.pids().notify, inspector };
      jets.push(
        await hold(ctx, "jetmesh", ctx.stack.notifyWs, server, attempted, {
          others: { nats: ctx.nats.pid ?? -1 },
          mint: ctx.stack.token,
        }),
      );
    } finally {
      inspector.close();
    }
    note(
      `idle ramp ${i + 1}/${ramps}: raw uWS ${fmtBytes(raws[i].bytesPerConnection)}, jetmesh ${
        fmtBytes(jets[i].bytesPerConnection)
      } per connection (nats-server grew ${fmtBytes(jets[i].othersRssGrowth.nats)})`,
    );
  }
  // Later phases get notify as it is deployed, without the inspector.
  await ctx.stack.restart("notify");
  const raw = median(raws);
  const jetmesh = median(jets);
  return {
    wanted,
    attempted,
    fdLimit,
    raw,
    jetmesh,
    ramps: {
      raw: raws.map((r) => r.bytesPerConnection),
      jetmesh: jets.map((r) => r.bytesPerConnection),
    },
    ratio: ratio(jetmesh.bytesPerConnection, raw.bytesPerConnection),
  };
}

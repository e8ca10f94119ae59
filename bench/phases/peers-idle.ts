/**
 * The peers phase's memory per idle connection: the idle phase's ramp (bench/phases/idle.ts,
 * `hold`) against a fresh process of each peer, so earlier load does not blur the figure.
 * Node servers (Socket.IO) are collected in full through their inspector before each reading,
 * as notify and raw uWS are; Centrifugo (Go) through pprof's `heap?gc=1`, which runs
 * runtime.GC (the Go runtime hands freed pages back to the system lazily, so what it keeps
 * counts against Centrifugo). jetmesh's figure is the same run's idle phase's when it ran, else one ramp
 * measured here.
 */
import { freePort } from "../../devkit/ports.ts";
import { Inspector } from "../inspector.ts";
import { note } from "../progress.ts";
import { centrifugoSystem, LABELS, socketioSystem, type SystemKey } from "../peers/systems.ts";
import { fmtBytes, fmtCount } from "../stats.ts";
import type { Ctx } from "./context.ts";
import { hold, idleAttempted, idleJetmesh, type IdleResult, type IdleRun } from "./idle.ts";
import type { PeerIdle, PeerRow } from "./peers.ts";

const figure = (r: IdleRun, source?: string): PeerIdle => ({
  bytesPerConnection: r.bytesPerConnection,
  connections: r.connections,
  failed: r.failed,
  firstError: r.firstError,
  source,
});

async function socketio(ctx: Ctx, engine: "ws" | "uws", count: number): Promise<IdleRun> {
  const port = await freePort();
  const sys = await socketioSystem(engine, { NODE_OPTIONS: `--inspect=127.0.0.1:${port}` });
  const inspector = await Inspector.connect(port);
  try {
    return await hold(
      ctx,
      LABELS[sys.key],
      sys.subscribeUrl,
      {
        pid: Object.values(sys.pids)[0],
        inspector,
      },
      count,
      { protocol: "socketio" },
    );
  } finally {
    inspector.close();
    await sys.stop();
  }
}

async function centrifugo(ctx: Ctx, count: number): Promise<IdleRun> {
  const sys = await centrifugoSystem();
  try {
    return await hold(
      ctx,
      LABELS.centrifugo,
      sys.subscribeUrl,
      { pid: sys.pids.centrifugo, collect: sys.collect },
      count,
      {
        protocol: "centrifugo",
        channel: sys.channel,
        mint: async () => sys.token!,
      },
    );
  } finally {
    await sys.stop();
  }
}

export async function peersIdle(
  ctx: Ctx,
  rows: PeerRow[],
  idle: IdleResult | undefined,
): Promise<Map<SystemKey, PeerIdle>> {
  const count = idleAttempted(ctx.opts.idleConnections);
  note(`peers idle: ${fmtCount(count)} subscribed idle connections per system, fresh processes`);
  const out = new Map<SystemKey, PeerIdle>();
  for (const r of rows) {
    if (r.notRun !== undefined) continue;
    try {
      let f: PeerIdle;
      if (r.key === "jetmesh") {
        f = idle
          ? figure(idle.jetmesh, "the idle phase of this run (median ramp)")
          : figure(await idleJetmesh(ctx, count), "this phase");
      } else if (r.key === "centrifugo") f = figure(await centrifugo(ctx, count));
      else f = figure(await socketio(ctx, r.key === "sio-ws" ? "ws" : "uws", count));
      out.set(r.key, f);
      note(`peers idle ${r.label}: ${fmtBytes(f.bytesPerConnection)} per connection`);
    } catch (err) {
      note(`peers idle ${r.label} failed: ${(err as Error).message.split("\n")[0]}`);
      out.set(r.key, {
        bytesPerConnection: NaN,
        connections: 0,
        failed: 0,
        firstError: (err as Error).message.split("\n")[0],
      });
    }
  }
  return out;
}

/**
 * Phase 1: raw JetStream ceilings on the same nats-server, before the
 * services load it, each with the client's own publish and with jetmesh's
 * pipelined one; the ceiling is the better.
 */
import { note, progress } from "../progress.ts";
import { type CpuUsage, snapshot, usage } from "../sampler.ts";
import { fmtCount, perSecond } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Ctx } from "./context.ts";

export interface CeilingRun {
  perSec: number;
  count: number;
  ms: number;
  failed: number;
  cpu: CpuUsage;
}

export interface Ceiling {
  /** The better of the two clients. */
  perSec: number;
  stock: CeilingRun;
  pipelined: CeilingRun;
}

export interface CeilingsResult {
  publish: Ceiling;
  relay: Ceiling;
}

/** msgpack envelope around the client's data: id, channel, publisher, timestamps. */
const ENVELOPE_OVERHEAD = 90;
const CLIENTS = ["stock", "pipelined"] as const;

export async function ceilings(ctx: Ctx): Promise<CeilingsResult> {
  const { opts, nats } = ctx;
  const w = await Worker.start("ceiling", "ceiling.ts");
  const pids = { nats: nats.pid ?? -1, client: w.pid };
  const durationMs = opts.durationSec * 1000;
  const from = { from: "BENCH_A", fromPrefix: "bench_a" };
  const runs: Record<string, Record<string, CeilingRun>> = { publish: {}, relay: {} };
  try {
    for (const client of CLIENTS) {
      note(`ceilings: JetStream publish with msgID (${client} client) for ${opts.durationSec}s`);
      const a = snapshot(pids);
      const r = await w.call<{ acked: number; failed: number; ms: number }>("publish", {
        url: nats.url,
        ...nats.users.admin,
        client,
        stream: from.from,
        prefix: from.fromPrefix,
        durationMs,
        payloadBytes: opts.payloadBytes + ENVELOPE_OVERHEAD,
        channels: opts.channels,
      }, (f) => progress(`ceilings: publish (${client}) ${fmtCount(f.acked as number)} acked`));
      runs.publish[client] = {
        perSec: perSecond(r.acked, r.ms),
        count: r.acked,
        ms: r.ms,
        failed: r.failed,
        cpu: usage(a, snapshot(pids)),
      };
    }
    // The relays read what the publish runs stored, each through a durable of its own.
    for (const client of CLIENTS) {
      note(
        `ceilings: relay hop, consume → publish with msgID → ack after PubAck (${client} client) for ${opts.durationSec}s`,
      );
      const a = snapshot(pids);
      const r = await w.call<{ relayed: number; failed: number; ms: number; exhausted: boolean }>(
        "relay",
        {
          url: nats.url,
          ...nats.users.admin,
          client,
          ...from,
          to: `BENCH_B_${client.toUpperCase()}`,
          toPrefix: `bench_b_${client}`,
          durationMs,
        },
        (f) => progress(`ceilings: relay (${client}) ${fmtCount(f.relayed as number)} relayed`),
      );
      if (r.exhausted) {
        note(
          `ceilings: the relay (${client}) ran out of input before ${opts.durationSec}s; measured over what there was`,
        );
      }
      runs.relay[client] = {
        perSec: perSecond(r.relayed, r.ms),
        count: r.relayed,
        ms: r.ms,
        failed: r.failed,
        cpu: usage(a, snapshot(pids)),
      };
    }
    await w.call("drop", {
      url: nats.url,
      ...nats.users.admin,
      streams: [from.from, ...CLIENTS.map((c) => `BENCH_B_${c.toUpperCase()}`)],
    });
  } finally {
    await w.stop();
  }
  const best = (k: string): Ceiling => ({
    perSec: Math.max(runs[k].stock.perSec, runs[k].pipelined.perSec),
    stock: runs[k].stock,
    pipelined: runs[k].pipelined,
  });
  const result = { publish: best("publish"), relay: best("relay") };
  note(
    `ceilings: publish ${fmtCount(result.publish.stock.perSec)}/s stock, ${
      fmtCount(result.publish.pipelined.perSec)
    }/s pipelined; ` +
      `relay ${fmtCount(result.relay.stock.perSec)}/s stock, ${
        fmtCount(result.relay.pipelined.perSec)
      }/s pipelined`,
  );
  return result;
}

/**
 * What `sync_interval: always` costs (docs/durability.md): publish throughput
 * and ack latency with nats-server's default fsync policy and with an fsync
 * before every ack, on one node and on a 3-node cluster with R3 streams. Each
 * of the four is a fresh nats-server (or cluster) of its own, started from a
 * config file as an operator would set it; all four run at once and take
 * turns, round after round, so a change in the shared machine's load falls
 * on all of them alike.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NatsServerHandle, startNatsServer } from "../../devkit/nats-server.ts";
import { startNatsCluster } from "../../devkit/nats-cluster.ts";
import { note, progress } from "../progress.ts";
import { type CpuUsage, type Snapshot, snapshot, usageOver } from "../sampler.ts";
import { fmtCount, fmtMs, type LatencySummary, perSecond, ratio, summarize } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Ctx } from "./context.ts";

export type Sync = "default" | "always";
export type Topology = "single" | "R3";

export interface DurabilityRun {
  topology: Topology;
  sync: Sync;
  /**
   * What every node's /varz said it does, so a label can never be wrong: "always" or the
   * interval.
   */
  serverSync: string;
  /** Median over the rounds of the publish rate with `inFlight` unacked. */
  publishesPerSec: number;
  roundsPerSec: number[];
  failed: number;
  /** One publish at a time, all rounds' samples together. */
  ack: LatencySummary;
  /** CPU during the throughput slices (nats-server nodes and the client). */
  cpu: CpuUsage;
}

export interface DurabilityResult {
  /**
   * Where the servers stored their streams: tmpfs would make an fsync free and the figures
   * meaningless.
   */
  store: { dir: string; fstype: string; source: string; mount: string };
  inFlight: number;
  payloadBytes: number;
  runs: DurabilityRun[];
}

/** The run of the same topology with the server's default, for ratios. */
function baseline(r: DurabilityResult, run: DurabilityRun): DurabilityRun | undefined {
  return r.runs.find((x) => x.topology === run.topology && x.sync === "default");
}

export function ratios(r: DurabilityResult, run: DurabilityRun) {
  const b = baseline(r, run);
  return {
    publishes: ratio(run.publishesPerSec, b?.publishesPerSec),
    p50: ratio(run.ack.p50, b?.ack.p50),
    p99: ratio(run.ack.p99, b?.ack.p99),
  };
}

interface Target {
  topology: Topology;
  sync: Sync;
  key: string;
  nodes: NatsServerHandle[];
  stop(): Promise<void>;
}

/**
 * The `jetstream` block an operator would write; the store dir comes from the helper's `-sd` (a
 * flag wins over the file).
 */
function config(dir: string, sync: Sync): string {
  const file = join(dir, `${sync}.conf`);
  const line = sync === "always"
    ? "sync_interval: always"
    : "# no sync_interval: the server's default (2 minutes)";
  writeFileSync(file, `jetstream {\n  ${line}\n}\n`);
  return file;
}

function filesystem(dir: string): DurabilityResult["store"] {
  try {
    const [, row] = execFileSync("df", ["--output=fstype,source,target", dir], { encoding: "utf8" })
      .trim().split("\n");
    const [fstype, source, mount] = row.trim().split(/\s+/);
    return { dir, fstype, source, mount };
  } catch {
    return { dir, fstype: "unknown", source: "unknown", mount: "unknown" };
  }
}

/**
 * Reads back from every node what it does, and refuses to measure a server that ignored its
 * config.
 */
async function serverSync(t: Target): Promise<string> {
  const seen = new Set<string>();
  for (const n of t.nodes) {
    const v = await n.monitor<
      { jetstream?: { config?: { sync_always?: boolean; sync_interval?: number } } }
    >("/varz");
    const c = v.jetstream?.config ?? {};
    seen.add(c.sync_always ? "always" : `${(c.sync_interval ?? 0) / 1e9}s`);
  }
  const [only] = [...seen];
  if (seen.size !== 1 || (only === "always") !== (t.sync === "always")) {
    throw new Error(
      `durability ${t.key}: the nodes report sync ${[...seen].join(", ")}, not ${t.sync}`,
    );
  }
  return only;
}

export async function durability(ctx: Ctx): Promise<DurabilityResult> {
  const { opts } = ctx;
  const dir = mkdtempSync(join(tmpdir(), "jm-durability-"));
  const targets: Target[] = [];
  const w = await Worker.start("durability", "ceiling.ts");
  try {
    for (const topology of ["single", "R3"] as const) {
      for (const sync of ["default", "always"] as const) {
        const key = `${topology}-${sync}`;
        note(
          `durability: starting ${
            topology === "single" ? "a nats-server" : "a 3-node cluster"
          } with ${sync === "always" ? "sync_interval: always" : "the default sync_interval"}`,
        );
        const args = ["-c", config(dir, sync)];
        if (topology === "single") {
          const ns = await startNatsServer({ name: `dur-${key}`, args });
          targets.push({ topology, sync, key, nodes: [ns], stop: () => ns.stop() });
        } else {
          const c = await startNatsCluster(3, { args });
          targets.push({ topology, sync, key, nodes: [...c], stop: () => c.stop() });
        }
      }
    }
    const store = filesystem(targets[0].nodes[0].storeDir);
    if (/^(tmpfs|ramfs)$/.test(store.fstype)) {
      note(
        `durability: the store is on ${store.fstype}, where an fsync costs nothing: the figures say nothing about a disk`,
      );
    }
    const synced = new Map<string, string>();
    for (const t of targets) synced.set(t.key, await serverSync(t));

    const inFlight = opts.publishers * opts.window;
    const sliceMs = (opts.durationSec * 1000) / opts.rounds;
    const common = (t: Target, round: number) => ({
      url: t.nodes.map((n) => n.url),
      client: "pipelined",
      stream: `DUR_${t.key.toUpperCase().replace("-", "_")}`,
      prefix: `dur_${t.key.replace("-", "_")}`,
      replicas: t.nodes.length,
      payloadBytes: opts.payloadBytes,
      durationMs: sliceMs,
      warmupMs: round === 0 ? opts.warmupSec * 1000 : 500,
    });
    // Every other round in reverse order, so no configuration always follows the same one.
    const order = (round: number) => (round % 2 === 0 ? targets : [...targets].reverse());
    const rates = new Map<string, number[]>(targets.map((t) => [t.key, []]));
    const failed = new Map<string, number>(targets.map((t) => [t.key, 0]));
    const snaps = new Map<string, Array<[Snapshot, Snapshot]>>(targets.map((t) => [t.key, []]));
    const pids = (t: Target) => ({
      ...Object.fromEntries(
        t.nodes.map((n, i) => [t.nodes.length > 1 ? `nats-n${i + 1}` : "nats", n.pid ?? -1]),
      ),
      client: w.pid,
    });
    note(
      `durability: publish throughput, ${inFlight} in flight, ${opts.rounds} rounds of ${
        (sliceMs / 1000).toFixed(1)
      }s per configuration`,
    );
    for (let round = 0; round < opts.rounds; round++) {
      for (const t of order(round)) {
        const s0 = snapshot(pids(t));
        const r = await w.call<{ acked: number; failed: number; ms: number }>(
          "publish",
          { ...common(t, round), idPrefix: `t${round}`, window: inFlight, channels: opts.channels },
          (f) =>
            progress(
              `durability: ${t.key} round ${round + 1}/${opts.rounds}: ${
                fmtCount(f.acked as number)
              } acked`,
            ),
        );
        snaps.get(t.key)!.push([s0, snapshot(pids(t))]);
        rates.get(t.key)!.push(perSecond(r.acked, r.ms));
        failed.set(t.key, failed.get(t.key)! + r.failed);
      }
    }
    note(
      `durability: ack latency, one publish at a time, ${opts.rounds} rounds of ${
        (sliceMs / 1000).toFixed(1)
      }s per configuration`,
    );
    const samples = new Map<string, number[]>(targets.map((t) => [t.key, []]));
    for (let round = 0; round < opts.rounds; round++) {
      for (const t of order(round)) {
        const r = await w.call<{ samples: number[]; failed: number }>(
          "serial",
          { ...common(t, round), idPrefix: `l${round}` },
          (f) =>
            progress(
              `durability: ${t.key} latency round ${round + 1}/${opts.rounds}: ${
                fmtCount(f.acked as number)
              } acked`,
            ),
        );
        samples.get(t.key)!.push(...r.samples);
        failed.set(t.key, failed.get(t.key)! + r.failed);
      }
    }
    const runs = targets.map((t): DurabilityRun => ({
      topology: t.topology,
      sync: t.sync,
      serverSync: synced.get(t.key)!,
      publishesPerSec: median(rates.get(t.key)!),
      roundsPerSec: rates.get(t.key)!,
      failed: failed.get(t.key)!,
      ack: summarize(samples.get(t.key)!),
      cpu: usageOver(snaps.get(t.key)!),
    }));
    for (const r of runs) {
      note(
        `durability: ${r.topology} ${r.sync}: ${fmtCount(r.publishesPerSec)}/s (rounds ${
          r.roundsPerSec.map(fmtCount).join(", ")
        }), ack p50 ${fmtMs(r.ack.p50)} p99 ${fmtMs(r.ack.p99)}`,
      );
    }
    return { store, inFlight, payloadBytes: opts.payloadBytes, runs };
  } finally {
    await w.stop();
    for (const t of targets) await t.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

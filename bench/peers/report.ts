/**
 * The peers table of the bench report: one row per system, its guarantees beside its figures,
 * because jetmesh persists every event before its ack and the peers do not, and a reader must
 * see both what jetmesh costs and what it buys. Pure: bench/peers.test.ts renders a fixed
 * result.
 */
import type { PeerLatency, PeerRow, PeersResult } from "../phases/peers.ts";
import { fmtBytes, fmtCount, fmtMs, ratio } from "../stats.ts";

const times = (r: number | null) => (r == null ? "n/a" : `${r.toFixed(2)}×`);
const us = (n: number | undefined) =>
  n === undefined || !Number.isFinite(n) ? "n/a" : `${n < 10 ? n.toFixed(1) : n.toFixed(0)} µs`;

function latencyCell(row: PeerRow, rate: number): string {
  const l: PeerLatency | undefined = row.latency.find((x) => x.rate === rate);
  if (!l) return "n/a";
  return `${fmtMs(l.p50)} / ${fmtMs(l.p99)}`;
}

/** "peer ÷ jetmesh" beside a peer's figure: how many times jetmesh's it is. */
function against(value: number | undefined, jet: number | undefined, isJet: boolean): string {
  if (isJet) return "";
  const r = ratio(value, jet);
  return r == null ? "" : ` (${times(r)} jetmesh's)`;
}

export function peersTable(p: PeersResult, rates: number[]): string[] {
  const jet = p.rows.find((r) => r.key === "jetmesh");
  const lines = [
    `Peers, in this run on this machine with the same load generator (one process, raw \`ws\` ` +
    `client speaking each protocol): fan-out 1 channel → ${
      fmtCount(p.fanoutSubscribers)
    } subscribers as CPU of the server's processes per delivery (deliveries/s are bound ` +
    `by the load generator, so they are shown but not compared); publish→deliver p50 / p99 ` +
    `at each offered rate over ${p.latencyChannels} channels, one subscription each; RSS per ` +
    `idle subscribed connection.`,
    "",
    `| system | fan-out: server CPU per delivery | deliveries/s (client-bound) | ${
      rates.map((r) => `p50 / p99 @ ${fmtCount(r)}/s`).join(" | ")
    } | memory per idle connection | guarantees |`,
    `|---|---|---|${rates.map(() => "---|").join("")}---|---|`,
  ];
  for (const row of p.rows) {
    if (row.notRun !== undefined) {
      lines.push(
        `| ${row.label} | not run: ${row.notRun.replace(/\|/g, "/")} | | ${
          rates.map(() => " |").join("")
        } | ${row.guarantees} |`,
      );
      continue;
    }
    const isJet = row.key === "jetmesh";
    const f = row.fanout;
    const cores = f
      ? Object.entries(f.cores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
      : "";
    lines.push(
      `| ${row.label} | ${us(f?.cpuUsPerDelivery)}${
        against(f?.cpuUsPerDelivery, jet?.fanout?.cpuUsPerDelivery, isJet)
      }${cores ? ` — cores: ${cores}` : ""} | ${
        f ? `${fmtCount(f.deliveriesPerSec)}/s` : "n/a"
      } | ${rates.map((r) => latencyCell(row, r)).join(" | ")} | ${
        fmtBytes(row.idle?.bytesPerConnection)
      }${
        against(row.idle?.bytesPerConnection, jet?.idle?.bytesPerConnection, isJet)
      } | ${row.guarantees} |`,
    );
  }
  lines.push("");
  const notes: string[] = [
    "jetmesh's CPU counts ingest, route, persist, notify and nats-server, not PostgreSQL's own " +
    "processes; each peer's counts its one server process. Before each idle RSS reading the " +
    "Node servers are collected in full through their inspector, Centrifugo (Go) through " +
    "pprof's runtime.GC; Go returns freed pages to the system lazily, which counts against it.",
  ];
  for (const row of p.rows) {
    const errs = [
      ...(row.fanout && row.fanout.errors > 0
        ? [`fan-out ${row.fanout.errors} errors (first: ${row.fanout.firstError})`]
        : []),
      ...row.latency.filter((l) => l.errors > 0).map((l) =>
        `@ ${fmtCount(l.rate)}/s ${l.errors} errors (first: ${l.firstError})`
      ),
      ...(row.idle && row.idle.failed > 0
        ? [`idle ${row.idle.failed} connections failed (first: ${row.idle.firstError})`]
        : []),
      ...(row.idle && !Number.isFinite(row.idle.bytesPerConnection) && row.idle.firstError
        ? [`idle not measured: ${row.idle.firstError}`]
        : []),
    ];
    if (errs.length > 0) notes.push(`${row.label}: ${errs.join("; ")}.`);
    if (row.idle?.source) notes.push(`${row.label}'s idle figure: ${row.idle.source}.`);
  }
  for (const n of notes) lines.push(`- ${n}`);
  lines.push("");
  return lines;
}

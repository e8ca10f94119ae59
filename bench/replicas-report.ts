/** The replicas phase's rows of the main table and its notes. Pure, like report.ts. */
import type { Cost, ReplicasResult } from "./phases/replicas.ts";
import type { SustainedResult } from "./phases/sustained.ts";
import { fmtCount, fmtRatio, ratio } from "./stats.ts";

/** Rows for the main table (| # | measure | jetmesh | reference | ratio | target | met |). */
export function replicasRows(r: ReplicasResult): string[] {
  const one = r.cost.one.perSec;
  const rows = [
    `| 2 | sustained end to end, 1 route replica (replicas phase) | ${fmtCount(one)}/s | | | | |`,
  ];
  const two = r.cost.two?.perSec;
  if (two !== undefined) {
    rows.push(
      `| 2 | sustained end to end, 2 route replicas, same ${r.partitions} partitions | ${
        fmtCount(two)
      }/s | 1 replica ${fmtCount(one)}/s | ${fmtRatio(ratio(two, one))} | | |`,
    );
  }
  return rows;
}

const us = (n: number) => `${n.toFixed(0)} µs`;

function perEvent(p: Cost): string {
  const parts = Object.entries(p.byProcess).map(([k, v]) => `${k} ${us(v)}`).join(", ");
  return `${us(p.total)} (${parts})`;
}

/** How each window went, and CPU per event of every process with one replica and with two. */
export function replicasNotes(r: ReplicasResult): string[] {
  const window = (s: SustainedResult) =>
    `${s.errors} errors, ${s.orderViolations} order violations, ${
      s.drained ? `drained in ${(s.drainMs / 1000).toFixed(1)}s` : "NOT drained within 60 s"
    }`;
  const notes = [`Replicas, 1 route: ${window(r.one)}.`];
  if (r.two) {
    notes.push(
      `Replicas, 2 routes: the second held ${r.secondHeld} of ${r.partitions} partitions ${
        (r.balanceMs / 1000).toFixed(1)
      } s into the load after the warm-up, when its window began; ${window(r.two)}.`,
    );
  } else {
    notes.push(`Replicas: no second route measured (${r.error ?? "no reason given"}).`);
  }
  const two = r.cost.two;
  const routes = (c: Cost) =>
    Object.entries(c.byProcess).filter(([k]) => k.startsWith("route")).reduce(
      (sum, [, v]) => sum + v,
      0,
    );
  notes.push(
    `CPU per event with 1 route replica ${perEvent(r.cost.one)}` +
      (two ? `; with 2 ${perEvent(two)}, the two routes together ${us(routes(two))}` : "") +
      "; PostgreSQL not counted.",
  );
  for (const [msg, count] of Object.entries(r.secondComplaints)) {
    notes.push(`the second route logged ${msg} ${count}×.`);
  }
  return notes;
}

/**
 * Phase "replicas": the sustained measurement with one route replica, then
 * with a second one started beside it, on the same stack and the same
 * partitions, one right after the other (issue 14: does a second replica
 * carry more, and what does each event cost then).
 *
 * The replicas share the partitions by themselves (internal/route/balance.ts):
 * every 5 s a replica holding more than ceil(P / replicas) hands the surplus
 * over. A partition's pin goes to a waiting replica only with the next
 * message, so the share settles under load: the second replica's window
 * opens once, under the load and after the warm-up, it holds P - ceil(P / 2)
 * partitions, or after BALANCE_TIMEOUT_MS with what it holds then (reported:
 * a timing fails nothing). Afterwards it stops with SIGTERM, which hands its
 * partitions straight back (handover.ts), so the phases after find the stack
 * as it was.
 */
import { CATALOG } from "../../devkit/catalog.ts";
import { heldPartitions } from "../../devkit/route-logs.ts";
import { freePort } from "../../devkit/ports.ts";
import { type ServiceProcess, spawnService } from "../../devkit/service-process.ts";
import { note, progress } from "../progress.ts";
import { cpuPerEvent, endToEnd } from "../report.ts";
import type { Ctx } from "./context.ts";
import { type SustainedResult, sustainedWindow } from "./sustained.ts";

/**
 * A window's end-to-end rate (the slowest of acked, committed, delivered) and the microseconds
 * of CPU each of those events cost: each process's and their sum.
 */
export interface Cost {
  perSec: number;
  total: number;
  byProcess: Record<string, number>;
}

export interface ReplicasResult {
  partitions: number;
  one: SustainedResult;
  /** Absent when the second replica could not be started (`error` says why). */
  two?: SustainedResult;
  cost: { one: Cost; two?: Cost };
  /** Partitions the second replica held when its window began. */
  secondHeld: number;
  /** From the end of the warm-up to the second replica holding its share (or to the timeout). */
  balanceMs: number;
  /** Warnings and errors the second replica logged, by message (the stack's own are counted apart). */
  secondComplaints: Record<string, number>;
  error?: string;
}

/** The second replica's name in the CPU figures, beside the stack's `route`. */
const SECOND_ROUTE = "route-2";
/** Three balance checks and their cool-downs with room to spare. */
const BALANCE_TIMEOUT_MS = 45_000;
const STOP_GRACE_MS = 30_000;

export async function replicas(ctx: Ctx): Promise<ReplicasResult> {
  const one = await sustainedWindow(ctx, "replicas, 1 route", {});
  const port = await freePort();
  note("replicas: starting a second route");
  const proc = spawnService("route", { ...ctx.stack.envOf("route"), ROUTE_PORT: String(port) });
  let outcome: Partial<ReplicasResult>;
  try {
    outcome = await withSecond(ctx, proc);
  } catch (err) {
    outcome = { error: err instanceof Error ? err.message : String(err) };
  } finally {
    await proc.stop("SIGTERM", STOP_GRACE_MS);
  }
  return {
    partitions: 0,
    one,
    secondHeld: 0,
    balanceMs: 0,
    ...outcome,
    cost: { one: cost(one), two: outcome.two && cost(outcome.two) },
    secondComplaints: complaintsOf(proc),
  };
}

/** Measures with the second replica beside the first, once it holds its share. */
async function withSecond(ctx: Ctx, proc: ServiceProcess): Promise<Partial<ReplicasResult>> {
  const ready = await proc.waitForLog(CATALOG.route.ready, 60_000);
  const partitions = Number(ready.partitions);
  const share = partitions - Math.ceil(partitions / 2);
  let balanceMs = 0;
  let secondHeld = 0;
  const settle = async () => {
    const start = performance.now();
    while (heldPartitions(proc) < share && performance.now() - start < BALANCE_TIMEOUT_MS) {
      progress(
        `replicas: the second route holds ${heldPartitions(proc)} of ${partitions} partitions`,
      );
      await new Promise((r) => setTimeout(r, 250));
    }
    balanceMs = performance.now() - start;
    secondHeld = heldPartitions(proc);
    note(
      `replicas: the second route holds ${secondHeld} of ${partitions} partitions after ${
        (balanceMs / 1000).toFixed(1)
      } s under load`,
    );
  };
  const two = await sustainedWindow(
    ctx,
    "replicas, 2 routes",
    { [SECOND_ROUTE]: proc.child.pid ?? -1 },
    settle,
  );
  return { partitions, two, secondHeld, balanceMs };
}

function cost(s: SustainedResult): Cost {
  const perSec = endToEnd(s);
  return { perSec, ...cpuPerEvent(s.cpu, perSec) };
}

function complaintsOf(proc: ServiceProcess): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of proc.logs) {
    if (l.level !== "warn" && l.level !== "error") continue;
    const key = `${l.level} ${String(l.msg)}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** The rules phase in the results file's Markdown: its row of the main table and its note. */
import { RULES_TARGET, type RulesResult } from "./phases/rules.ts";
import { fmtCount } from "./stats.ts";

const us = (n: number) => (Number.isFinite(n) ? `${n.toFixed(0)} µs` : "n/a");

/** `met`: how the target check reads in the table ("yes", "**no**", "n/a"). */
export function rulesRow(r: RulesResult, met: string): string {
  const ratio = r.ratio === null ? "n/a" : `${r.ratio.toFixed(2)}×`;
  return `| 6 | route CPU per event, examples/iot rules (route drains the queued readings) | ${
    us(r.routeUs.rules)
  } | plain routing ${us(r.routeUs.plain)} | ${ratio} | ≤ ${RULES_TARGET}× | ${met} |`;
}

export function rulesNote(r: RulesResult): string {
  const runs = r.runs.map((x) => {
    if (x.error !== undefined) return `${x.variant}: not measured (${x.error})`;
    const route = x.cpu.cores.route ?? NaN;
    return `${x.variant} ${us(x.routeUs)}: ${fmtCount(x.events)} readings in ${
      (x.ms / 1000).toFixed(1)
    } s (${fmtCount(x.perSec)}/s${x.completed ? "" : ", not drained in time"}), route ${
      route.toFixed(2)
    } cores, ${(x.published / Math.max(1, x.events)).toFixed(2)} events published per reading`;
  });
  return `Rules: the IoT example's readings (${fmtCount(r.devices)} devices, ${
    fmtCount(r.readingsPerSec)
  }/s of event time, out of order, duplicated and late ones included) through ingest; per run route restarted, ${
    fmtCount(r.warmup)
  } readings of warm-up, then the rest of its slice queued with route's durables paused and drained with persist's paused; each variant's figure pools its runs: ${
    runs.join("; ")
  }.`;
}

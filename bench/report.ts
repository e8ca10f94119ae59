/** The results file and its Markdown table. Pure: the tap test renders a fixed result. */
import { natsOpsLine } from "./nats-ops.ts";
import type { BenchOptions } from "./options.ts";
import type { Ceiling, CeilingsResult } from "./phases/ceilings.ts";
import { type DurabilityResult, ratios } from "./phases/durability.ts";
import type { FanoutResult } from "./phases/fanout.ts";
import type { IdleResult } from "./phases/idle.ts";
import type { LatencyResult, LatencyRun } from "./phases/latency.ts";
import type { PeersResult } from "./phases/peers.ts";
import { RULES_TARGET, type RulesResult } from "./phases/rules.ts";
import type { ReplicasResult } from "./phases/replicas.ts";
import { peersTable } from "./peers/report.ts";
import { replicasNotes, replicasRows } from "./replicas-report.ts";
import type { StagesResult } from "./phases/stages.ts";
import type { SustainedResult } from "./phases/sustained.ts";
import type { MachineInfo } from "./proc.ts";
import { rulesNote, rulesRow } from "./rules-report.ts";
import type { CpuUsage } from "./sampler.ts";
import type { Complaint } from "./stack.ts";
import { fmtBytes, fmtCount, fmtMs, fmtRatio, ratio } from "./stats.ts";

export interface BenchResults {
  version: 1;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  commit: string;
  machine: MachineInfo & {
    natsServer: string;
    postgres: string;
    load1Start: number;
    load1End: number;
  };
  options: BenchOptions;
  ceilings?: CeilingsResult;
  durability?: DurabilityResult;
  /** Route's CPU per event with processing rules against plain routing (issue 15). */
  rules?: RulesResult;
  sustained?: SustainedResult;
  /** The sustained measurement with 1 and with 2 route replicas (issue 14). */
  replicas?: ReplicasResult;
  stages?: StagesResult;
  latency?: LatencyResult[];
  fanout?: FanoutResult;
  idle?: IdleResult;
  /** jetmesh beside Centrifugo and Socket.IO (issue 14). */
  peers?: PeersResult;
  /** What the services logged at warn or error level during the run. */
  complaints: Complaint[];
  targets: TargetCheck[];
}

export interface TargetCheck {
  name: string;
  target: string;
  /** The measured ratio the target is about. */
  value: number | null;
  met: boolean | null;
}

const times = (
  r: number | null | undefined,
) => (r == null || !Number.isFinite(r) ? "n/a" : `${r.toFixed(2)}×`);
const perSec = (n: number | null | undefined) => `${fmtCount(n)}/s`;

/** The slowest of the three stages: what the pipeline sustains end to end. */
export function endToEnd(s: SustainedResult): number {
  return Math.min(s.ackedPerSec, s.committedPerSec, s.deliveredPerSec);
}

/** Microseconds of CPU per event of each process, and their sum, from cores used at a rate. */
export function cpuPerEvent(
  cpu: CpuUsage,
  perSec: number,
): { total: number; byProcess: Record<string, number> } {
  const byProcess: Record<string, number> = {};
  let total = 0;
  for (const [name, cores] of Object.entries(cpu.cores)) {
    byProcess[name] = perSec > 0 ? (cores / perSec) * 1e6 : NaN;
    total += byProcess[name];
  }
  return { total, byProcess };
}

export function checkTargets(
  r: Pick<BenchResults, "ceilings" | "sustained" | "latency" | "fanout" | "idle" | "rules">,
): TargetCheck[] {
  const out: TargetCheck[] = [];
  const relay = r.ceilings?.relay.perSec;
  const e2e = r.sustained ? ratio(endToEnd(r.sustained), relay) : null;
  out.push({
    name: "sustained end-to-end throughput vs relay ceiling",
    target: "≥ 60 %",
    value: e2e,
    met: e2e === null ? null : e2e >= 0.6,
  });
  const low = r.latency?.slice().sort((a, b) => a.rate - b.rate).find((l) => l.rate === 1000) ??
    r.latency?.[0];
  const p99 = low?.p99Ratio ?? null;
  out.push({
    name: `publish→deliver p99 @ ${fmtCount(low?.rate ?? 1000)}/s vs prototype`,
    target: "≤ 2×",
    value: p99,
    met: p99 === null ? null : p99 <= 2,
  });
  const fan = r.fanout?.ratio ?? null;
  out.push({
    name: "fan-out deliveries/s vs raw uWebSockets.js",
    target: "≥ 50 %",
    value: fan,
    met: fan === null ? null : fan >= 0.5,
  });
  const mem = r.idle?.ratio ?? null;
  out.push({
    name: "memory per idle subscriber connection vs raw uWebSockets.js",
    target: "≤ 2×",
    value: mem,
    met: mem === null ? null : mem <= 2,
  });
  const rules = r.rules?.ratio ?? null;
  out.push({
    name: "route CPU per event with the IoT rules vs plain routing",
    target: `≤ ${RULES_TARGET}×`,
    value: rules,
    met: rules === null ? null : rules <= RULES_TARGET,
  });
  return out;
}

/** Read + write syscalls per event of each process: what batching saves, whatever the load. */
function syscallsNote(label: string, u: CpuUsage, perSec: number): string {
  const per = Object.entries(u.syscallsPerSec ?? {}).map(([k, v]) =>
    `${k} ${perSec > 0 ? (v / perSec).toFixed(1) : "n/a"}`
  );
  return `Syscalls per event ${label}: ${per.length > 0 ? per.join(", ") : "not recorded"}.`;
}

function cpuLine(label: string, u: CpuUsage | undefined): string {
  if (!u) return "";
  const procs = Object.entries(u.cores).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
  return `| ${label} | ${procs} | ${(u.machineBusy * 100).toFixed(0)} % | ${
    u.load1[0].toFixed(1)
  } → ${u.load1[1].toFixed(1)} |`;
}

function lat(run: LatencyRun): string {
  const l = run.latency;
  return `${fmtMs(l.p50)} / ${fmtMs(l.p99)} / ${fmtMs(l.p999)}`;
}

/**
 * Each stage's own capacity, the stages after it held back: the sustained rows come out equal
 * by construction (its load is capped by the undelivered backlog), these show which stage
 * limits.
 */
export function stagesTable(st: StagesResult, sustained?: SustainedResult): string[] {
  const lines: string[] = [];
  lines.push(
    "Stages alone: each stage on work queued up for it, the stages after it paused (their durable consumers), on the same machine:",
  );
  lines.push("");
  lines.push(
    "| stage | events/s alone | events | measured over | how | busiest processes (cores) |",
  );
  lines.push("|---|---|---|---|---|---|");
  for (const r of st.runs) {
    const busiest = Object.entries(r.cpu.cores).sort((a, b) => b[1] - a[1]).slice(0, 3)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
    const rate = r.error !== undefined
      ? `n/a (${r.error})`
      : `${perSec(r.perSec)}${r.completed ? "" : " (not drained in time)"}`;
    const mark = r.stage === st.limiting ? `**${r.stage}** (limits)` : r.stage;
    lines.push(
      `| ${mark} | ${rate} | ${fmtCount(r.events)} | ${(r.ms / 1000).toFixed(1)} s${
        r.startMs === undefined ? "" : ` (first event after ${(r.startMs / 1000).toFixed(1)} s)`
      } | ${r.how} | ${busiest} |`,
    );
  }
  lines.push("");
  const limit = st.runs.find((r) => r.stage === st.limiting);
  lines.push(
    `- Limiting stage: ${
      limit ? `${limit.stage}, ${perSec(limit.perSec)} alone` : "n/a (no stage measured)"
    }${
      sustained ? `; the sustained pipeline carried ${perSec(endToEnd(sustained))} end to end` : ""
    }. A stage's rate alone is an upper bound on it in the pipeline, where all four share the cores.`,
  );
  lines.push("");
  return lines;
}

/** The durability phase's own table: each fsync policy next to the default of the same topology. */
export function durabilityTable(d: DurabilityResult): string[] {
  const lines: string[] = [];
  lines.push(
    `Durability: a fresh nats-server (or 3-node cluster, R3 stream) per configuration, all four taking turns; ` +
      `store on ${d.store.fstype} (${d.store.source}, ${d.store.mount}); throughput with ${d.inFlight} publishes in flight on one connection, ` +
      `ack latency with one at a time; ${d.payloadBytes} B payloads with a msgID.`,
  );
  lines.push("");
  lines.push(
    "| config | publishes/s | ack p50 | ack p99 | vs the default of the same topology (publishes/s; p50; p99) |",
  );
  lines.push("|---|---|---|---|---|");
  for (const run of d.runs) {
    const q = ratios(d, run);
    const vs = run.sync === "default"
      ? "1 (reference)"
      : `${fmtRatio(q.publishes)}; ${times(q.p50)}; ${times(q.p99)}`;
    const name = `${run.topology === "single" ? "single node" : "3-node cluster, R3"}, ${
      run.sync === "always" ? "`sync_interval: always`" : "default (2 min)"
    }`;
    lines.push(
      `| ${name} | ${perSec(run.publishesPerSec)} | ${fmtMs(run.ack.p50)} | ${
        fmtMs(run.ack.p99)
      } | ${vs} |`,
    );
  }
  lines.push("");
  const rounds = d.runs.map((x) =>
    `${x.topology} ${x.sync} ${x.roundsPerSec.map(fmtCount).join(", ")}`
  ).join("; ");
  lines.push(
    `- Publishes/s are the median of the rounds (${rounds}); latencies are over all rounds' samples (${
      d.runs.map((x) => fmtCount(x.ack.count)).join(", ")
    }).`,
  );
  const failed = d.runs.filter((x) => x.failed > 0);
  if (failed.length > 0) {
    lines.push(
      `- Failed publishes: ${failed.map((x) => `${x.topology} ${x.sync} ${x.failed}`).join(", ")}.`,
    );
  }
  lines.push("");
  return lines;
}

export function markdown(r: BenchResults): string {
  const m = r.machine;
  const o = r.options;
  const lines: string[] = [];
  lines.push(
    `### jetmesh bench, ${r.startedAt.slice(0, 16).replace("T", " ")} UTC (${
      r.quick ? "QUICK=1" : "full"
    }, commit ${r.commit})`,
  );
  lines.push("");
  lines.push(
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}, nats-server ${m.natsServer}, PostgreSQL ${m.postgres}. ` +
      `Load average (1 min) ${m.load1Start.toFixed(1)} at the start, ${
        m.load1End.toFixed(1)
      } at the end: the machine is shared, so compare within one run.`,
  );
  lines.push(
    `Settings: ${o.durationSec}s windows after ${o.warmupSec}s warm-up, ${o.payloadBytes} B payloads, ${o.channels} channels, ` +
      `${o.publishers} publishers × ${o.window} in flight.`,
  );
  lines.push("");
  // With only some phases (--phases=durability) the main table may have no row: then it is
  // left out.
  const tableAt = lines.length;
  lines.push("| # | measure | jetmesh | reference (same run) | ratio | target | met |");
  lines.push("|---|---|---|---|---|---|---|");
  const c = r.ceilings;
  if (c) {
    const both = (x: Ceiling) =>
      `${perSec(x.perSec)} (client's js.publish ${perSec(x.stock.perSec)}, pipelined ${
        perSec(x.pipelined.perSec)
      })`;
    lines.push(`| 1 | ceiling: JetStream async publish with msgID | | ${both(c.publish)} | | | |`);
    lines.push(
      `| 1 | ceiling: relay hop (consume A → publish B with msgID → ack A after PubAck) | | ${
        both(c.relay)
      } | | | |`,
    );
  }
  const target = (i: number) => r.targets[i];
  const met = (t: TargetCheck | undefined) => (t?.met == null ? "n/a" : t.met ? "yes" : "**no**");
  const s = r.sustained;
  if (s) {
    const relay = c?.relay.perSec;
    lines.push(
      `| 2 | events acked at ingest | ${perSec(s.ackedPerSec)} | relay ${perSec(relay)} | ${
        fmtRatio(ratio(s.ackedPerSec, relay))
      } | | |`,
    );
    lines.push(
      `| 2 | events committed in PostgreSQL | ${perSec(s.committedPerSec)} | relay ${
        perSec(relay)
      } | ${fmtRatio(ratio(s.committedPerSec, relay))} | | |`,
    );
    lines.push(
      `| 2 | events delivered to subscribers | ${perSec(s.deliveredPerSec)} | relay ${
        perSec(relay)
      } | ${fmtRatio(ratio(s.deliveredPerSec, relay))} | | |`,
    );
    lines.push(
      `| 2 | sustained end to end (slowest of the three) | ${perSec(endToEnd(s))} | relay ${
        perSec(relay)
      } | ${fmtRatio(target(0)?.value)} | ≥ 60 % | ${met(target(0))} |`,
    );
  }
  if (r.replicas) lines.push(...replicasRows(r.replicas));
  for (const l of r.latency ?? []) {
    const isTarget = target(1)?.name.includes(`@ ${fmtCount(l.rate)}/s `);
    lines.push(
      `| 3 | publish→deliver p50 / p99 / p999 @ ${fmtCount(l.rate)}/s offered | ${
        lat(l.jetmesh)
      } | prototype ${lat(l.proto)} | p99 ${times(l.p99Ratio)} | ${isTarget ? "≤ 2×" : ""} | ${
        isTarget ? met(target(1)) : ""
      } |`,
    );
  }
  const f = r.fanout;
  if (f) {
    lines.push(
      `| 4 | fan-out 1 channel → ${fmtCount(f.subscribers)} subscribers, deliveries/s | ${
        perSec(f.jetmesh.deliveriesPerSec)
      } | raw uWS broadcast ${perSec(f.raw.deliveriesPerSec)} | ${fmtRatio(f.ratio)} | ≥ 50 % | ${
        met(target(2))
      } |`,
    );
  }
  const i = r.idle;
  if (i) {
    lines.push(
      `| 5 | memory per idle subscriber connection (${
        fmtCount(i.jetmesh.connections)
      } on one notify) | ${fmtBytes(i.jetmesh.bytesPerConnection)} | raw uWS ${
        fmtBytes(i.raw.bytesPerConnection)
      } (${fmtCount(i.raw.connections)}) | ${times(i.ratio)} | ≤ 2× | ${met(target(3))} |`,
    );
  }
  if (r.rules) lines.push(rulesRow(r.rules, met(target(4))));
  if (lines.length === tableAt + 2) lines.splice(tableAt, 2);
  else lines.push("");
  const notes: string[] = [];
  if (s) {
    notes.push(
      `Sustained: ${s.errors} errors, ${s.orderViolations} order violations, ` +
        `${
          s.drained
            ? `drained in ${(s.drainMs / 1000).toFixed(1)}s after the load stopped`
            : "NOT drained within 60 s"
        }.`,
    );
  }
  if (s) {
    const e2e = cpuPerEvent(s.cpu, endToEnd(s));
    const us = (n: number) => `${n.toFixed(0)} µs`;
    const parts = (c: { byProcess: Record<string, number> }) =>
      Object.entries(c.byProcess).map(([k, v]) => `${k} ${us(v)}`).join(", ");
    const e2eText = `jetmesh end to end ${us(e2e.total)} (${parts(e2e)}), PostgreSQL not counted`;
    if (r.ceilings) {
      const relay = r.ceilings.relay;
      const relayRun = relay.pipelined.perSec >= relay.stock.perSec ? relay.pipelined : relay.stock;
      const hop = cpuPerEvent(relayRun.cpu, relayRun.perSec);
      const cap = (r.machine.cpus * 1e6) / e2e.total;
      notes.push(
        `CPU per event: the relay hop ${us(hop.total)} (${parts(hop)}); ${e2eText}. ` +
          `At that cost ${r.machine.cpus} cores carry at most ${perSec(cap)}, ${
            fmtRatio(ratio(cap, relay.perSec))
          } of the relay ceiling; ` +
          `60 % would need ${us((r.machine.cpus * 1e6) / (0.6 * relay.perSec))} per event.`,
      );
    } else notes.push(`CPU per event at saturation (sustained): ${e2eText}.`);
    notes.push(syscallsNote("sustained", s.cpu, endToEnd(s)));
    if (s.natsOps) notes.push(`Sustained, ${natsOpsLine(s.natsOps)}.`);
  }
  for (const l of r.latency ?? []) {
    const c = cpuPerEvent(l.jetmesh.cpu, l.jetmesh.deliveredPerSec);
    const show = (n: number) => `${n.toFixed(0)} µs`;
    notes.push(
      `CPU per event @ ${fmtCount(l.rate)}/s offered (${
        perSec(l.jetmesh.deliveredPerSec)
      } delivered): ${show(c.total)} (${
        Object.entries(c.byProcess).map(([k, v]) => `${k} ${show(v)}`).join(", ")
      }).`,
    );
    notes.push(syscallsNote(`@ ${fmtCount(l.rate)}/s`, l.jetmesh.cpu, l.jetmesh.deliveredPerSec));
  }
  if (r.rules) notes.push(rulesNote(r.rules));
  if (r.replicas) notes.push(...replicasNotes(r.replicas));
  if (i && i.attempted < i.wanted) {
    notes.push(
      `Idle: ${fmtCount(i.attempted)} connections instead of ${
        fmtCount(i.wanted)
      }: every process may hold ${i.fdLimit.hard} file descriptors (hard limit), and a server needs some besides its connections.`,
    );
  }
  for (const [who, run] of i ? ([["raw uWS", i.raw], ["jetmesh", i.jetmesh]] as const) : []) {
    if (run.failed > 0) {
      notes.push(
        `Idle: ${
          fmtCount(run.failed)
        } ${who} connections failed to open and subscribe (first: ${run.firstError}).`,
      );
    }
  }
  if (i) {
    notes.push(
      `Idle: bytes per connection are the median growth of the server's RSS per connection over the steps of the ramp, each sample taken after a full ` +
        `garbage collection through the server's inspector (${i.raw.samples} and ${i.jetmesh.samples} samples); ` +
        `the plain before/after difference was ${fmtBytes(i.raw.deltaPerConnection)} (raw) and ${
          fmtBytes(i.jetmesh.deltaPerConnection)
        } (jetmesh). ` +
        (i.ramps.raw.length > 1
          ? `Median of ${i.ramps.raw.length} ramps on fresh processes: raw ${
            i.ramps.raw.map(fmtBytes).join(", ")
          }; jetmesh ${i.ramps.jetmesh.map(fmtBytes).join(", ")}. `
          : "") +
        `nats-server grew ${
          fmtBytes(i.jetmesh.othersRssGrowth.nats)
        } while notify held its connections.`,
    );
  }
  for (const c of r.complaints) {
    notes.push(`${c.service} logged ${c.level} "${c.msg}" ${c.count}×.`);
  }
  for (const n of notes) lines.push(`- ${n}`);
  if (notes.length > 0) lines.push("");
  if (r.stages) lines.push(...stagesTable(r.stages, r.sustained));
  if (r.durability) lines.push(...durabilityTable(r.durability));
  if (r.peers) lines.push(...peersTable(r.peers, r.options.rates));
  lines.push(
    "CPU in cores per process during each window (1.00 = one core), machine busy share, load average:",
  );
  lines.push("");
  lines.push("| window | cores | machine busy | load |");
  lines.push("|---|---|---|---|");
  const cpuRows = [
    cpuLine("ceiling: publish, js.publish", c?.publish.stock.cpu),
    cpuLine("ceiling: publish, pipelined", c?.publish.pipelined.cpu),
    cpuLine("ceiling: relay, js.publish", c?.relay.stock.cpu),
    cpuLine("ceiling: relay, pipelined", c?.relay.pipelined.cpu),
    ...(r.durability?.runs ?? []).map((x) =>
      cpuLine(`durability: ${x.topology} ${x.sync}, publish`, x.cpu)
    ),
    ...(r.rules?.runs ?? []).map((x, n) =>
      cpuLine(`rules ${n + 1}: ${x.variant}, route drains`, x.cpu)
    ),
    cpuLine("sustained", s?.cpu),
    cpuLine("replicas: 1 route", r.replicas?.one.cpu),
    cpuLine("replicas: 2 routes", r.replicas?.two?.cpu),
    ...(r.stages?.runs ?? []).map((x) => cpuLine(`stage alone: ${x.stage}`, x.cpu)),
    ...(r.latency ?? []).flatMap((
      l,
    ) => [
      cpuLine(`latency jetmesh @ ${fmtCount(l.rate)}/s`, l.jetmesh.cpu),
      cpuLine(`latency prototype @ ${fmtCount(l.rate)}/s`, l.proto.cpu),
    ]),
    cpuLine("fan-out raw uWS", f?.raw.cpu),
    cpuLine("fan-out jetmesh", f?.jetmesh.cpu),
  ].filter((x) => x !== "");
  lines.push(...cpuRows);
  return lines.join("\n") + "\n";
}

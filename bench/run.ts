/**
 * `make bench`: raw ceilings, then jetmesh's throughput, latency, fan-out and
 * idle-connection cost, then the same figures of its peers (Centrifugo,
 * Socket.IO), all against one nats-server and one PostgreSQL in one
 * run, because the machine is shared and only figures from the same run
 * compare. Settings: bench/options.ts. Results: bench/results/<time>.json and
 * .md, and the table on stdout. Progress goes to stderr.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { findNatsServer } from "../devkit/nats-server.ts";
import { raiseFdLimitOrReexec } from "./fdlimit.ts";
import { readOptions } from "./options.ts";
import { ceilings } from "./phases/ceilings.ts";
import type { Ctx } from "./phases/context.ts";
import { durability } from "./phases/durability.ts";
import { fanout } from "./phases/fanout.ts";
import { idle } from "./phases/idle.ts";
import { latency } from "./phases/latency.ts";
import { peers } from "./phases/peers.ts";
import { rules } from "./phases/rules.ts";
import { replicas } from "./phases/replicas.ts";
import { stages } from "./phases/stages.ts";
import { sustained } from "./phases/sustained.ts";
import { load1, machineInfo } from "./proc.ts";
import { note } from "./progress.ts";
import { type BenchResults, checkTargets, markdown } from "./report.ts";
import { benchDatabase, type BenchStack, startNats, startServices } from "./stack.ts";

raiseFdLimitOrReexec();

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const opts = readOptions(process.env, process.argv.slice(2));
const startedAt = new Date().toISOString();

function commit(): string {
  try {
    const sha = execFileSync("git", ["-C", root, "rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
    }).trim();
    const dirty =
      execFileSync("git", ["-C", root, "status", "--porcelain", "--untracked-files=no"], {
        encoding: "utf8",
      }).trim() !== "";
    return dirty ? `${sha}+changes` : sha;
  } catch {
    return "unknown";
  }
}

function natsVersion(): string {
  const bin = findNatsServer();
  if (!bin) return "missing";
  return execFileSync(bin, ["--version"], { encoding: "utf8" }).trim().replace(
    /^nats-server:\s*/,
    "",
  );
}

async function main(): Promise<void> {
  const machine = machineInfo();
  const load1Start = load1();
  note(
    `jetmesh bench${
      opts.quick ? " (QUICK)" : ""
    }: ${machine.cpus} × ${machine.cpuModel}, load ${load1Start}; phases ${opts.phases.join(", ")}`,
  );
  const nats = await startNats();
  const db = await benchDatabase();
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  let stack: BenchStack | undefined;
  const results: Partial<BenchResults> = {};
  let pgVersion = "unknown";
  let complaints: BenchResults["complaints"] = [];
  try {
    const [{ v }] = await sql`select current_setting('server_version') as v`;
    pgVersion = String(v);
    let n = 0;
    const ctx = {
      opts,
      nats,
      db,
      sql,
      tag: (p: string) => `${p}${Date.now().toString(36)}${(n++).toString(36)}`,
    } as Omit<Ctx, "stack">;
    // Ceilings first, on a nats-server nothing else uses yet.
    if (opts.phases.includes("ceilings")) results.ceilings = await ceilings(ctx as Ctx);
    // Its own nats-servers, while the services do not run yet.
    if (opts.phases.includes("durability")) results.durability = await durability(ctx as Ctx);
    if (opts.phases.some((p) => p !== "ceilings" && p !== "durability")) {
      note("starting the services: ingest, route, persist, notify");
      const profileDir = join(
        root,
        "bench",
        "results",
        "profiles",
        startedAt.replace(/[:.]/g, "-").slice(0, 19),
      );
      if (opts.profile.length > 0) {
        note(`profiling ${opts.profile.join(", ")} into ${relative(process.cwd(), profileDir)}`);
      }
      stack = await startServices(nats, db, opts.profile, profileDir);
      const full: Ctx = { ...ctx, stack };
      if (opts.phases.includes("rules")) results.rules = await rules(full);
      if (opts.phases.includes("sustained")) results.sustained = await sustained(full);
      if (opts.phases.includes("replicas")) results.replicas = await replicas(full);
      if (opts.phases.includes("stages")) results.stages = await stages(full);
      if (opts.phases.includes("latency")) results.latency = await latency(full);
      if (opts.phases.includes("fanout")) results.fanout = await fanout(full);
      if (opts.phases.includes("idle")) results.idle = await idle(full);
      if (opts.phases.includes("peers")) results.peers = await peers(full, results.idle);
    }
  } finally {
    complaints = stack?.complaints() ?? [];
    await stack?.stop();
    // Everything the services logged, for a closer look than the complaints give.
    stack?.writeLogs(
      join(root, "bench", "results", "logs", startedAt.replace(/[:.]/g, "-").slice(0, 19)),
    );
    await nats.stop();
    await sql.end({ timeout: 5 });
    await db.drop();
  }
  const out: BenchResults = {
    version: 1,
    startedAt,
    finishedAt: new Date().toISOString(),
    quick: opts.quick,
    commit: commit(),
    machine: {
      ...machine,
      natsServer: natsVersion(),
      postgres: pgVersion,
      load1Start,
      load1End: load1(),
    },
    options: opts,
    ...results,
    complaints,
    targets: checkTargets(results),
  };
  const dir = join(root, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const base = join(
    dir,
    `${startedAt.replace(/[:.]/g, "-").slice(0, 19)}${opts.quick ? "-quick" : ""}`,
  );
  const md = markdown(out);
  writeFileSync(`${base}.json`, JSON.stringify(out, null, 2) + "\n");
  writeFileSync(`${base}.md`, md);
  note(`results: ${relative(process.cwd(), base)}.json and .md`);
  process.stdout.write(`\n${md}`);
}

main().catch((err) => {
  note(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  process.exit(1);
});

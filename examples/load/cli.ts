/**
 * The command line the example load generators share:
 *
 *   node --import tsx examples/iot/load.ts [--seed=1] [--keys=1000] [--rate=200]
 *     [--duration=60] [--start=<epoch ms>] [--expected=FILE] [--dry-run]
 *     [--ingest=URL] [--token=JWT | --token-url=URL]
 *
 * INGEST_URL (default http://localhost:8080), JETMESH_TOKEN and JETMESH_TOKEN_URL
 * (e.g. notify's `http://localhost:8081/dev/token?name=loadgen` under run-local)
 * stand in for the flags. `--expected` writes what route should publish for the
 * same input (the offline reference, internal/processing/reference.ts); with
 * `--dry-run` nothing is sent. `--start` (default: now) fixes event times, so a
 * seed and a start replay exactly.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { publishAll, type WireEvent } from "./publish.ts";
import { type Planned, schedule, type ScheduleOptions } from "./schedule.ts";

export interface Example {
  name: string;
  /** Key names are `<prefix>-0001`... */
  prefix: string;
  lateness: number;
  lateBehind: number;
  defaults: { keys: number; rate: number; durationSec: number };
  /** The event a planned one becomes. */
  wire(p: Planned): { channel: string; data: unknown };
  /** What route should publish for this input (JSON); `publisher`: the token's sub. */
  expected(planned: Planned[], o: ScheduleOptions, publisher: string): Record<string, unknown>;
}

export class LoadUsageError extends Error {
  override name = "LoadUsageError";
}

function num(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new LoadUsageError(`--${name}: not a number: ${v}`);
  return n;
}

/** The `sub` of a JWT, unverified: only to predict the event ids ingest will give. */
export function subOf(token: string | undefined): string {
  if (!token) return "anonymous";
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return String(JSON.parse(atob(payload)).sub ?? "anonymous");
  } catch {
    return "anonymous";
  }
}

export function plan(ex: Example, o: Partial<ScheduleOptions> & { seed: number; start: number }) {
  const opts: ScheduleOptions = {
    keys: ex.defaults.keys,
    rate: ex.defaults.rate,
    durationSec: ex.defaults.durationSec,
    lateness: ex.lateness,
    lateBehind: ex.lateBehind,
    disorder: 0.1,
    duplicates: 0.03,
    lates: 0.01,
    ...o,
  };
  const planned = schedule(opts, ex.prefix);
  const events: WireEvent[] = planned.map((p) => ({ id: p.id, at: p.at, ...ex.wire(p) }));
  return { opts, planned, events };
}

export async function main(ex: Example, argv = process.argv.slice(2)): Promise<void> {
  const { values: a } = parseArgs({
    args: argv,
    options: {
      seed: { type: "string" },
      keys: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      start: { type: "string" },
      expected: { type: "string" },
      "dry-run": { type: "boolean" },
      ingest: { type: "string" },
      token: { type: "string" },
      "token-url": { type: "string" },
    },
  });
  const env = process.env;
  let token = a.token ?? env.JETMESH_TOKEN;
  const tokenUrl = a["token-url"] ?? env.JETMESH_TOKEN_URL;
  if (!token && tokenUrl && !a["dry-run"]) {
    const res = await fetch(tokenUrl);
    if (!res.ok) throw new LoadUsageError(`token from ${tokenUrl}: HTTP ${res.status}`);
    token = ((await res.json()) as { token: string }).token;
  }
  const start = num(a.start, "start", Date.now());
  const { opts, planned, events } = plan(ex, {
    seed: num(a.seed, "seed", 1),
    keys: num(a.keys, "keys", ex.defaults.keys),
    rate: num(a.rate, "rate", ex.defaults.rate),
    durationSec: num(a.duration, "duration", ex.defaults.durationSec),
    start,
  });
  if (a.expected) {
    const body = { example: ex.name, options: opts, ...ex.expected(planned, opts, subOf(token)) };
    writeFileSync(a.expected, JSON.stringify(body, null, 1));
    console.log(`${ex.name}: expected results in ${a.expected}`);
  }
  if (a["dry-run"]) return;
  const ingestUrl = a.ingest ?? env.INGEST_URL ?? "http://localhost:8080";
  console.log(
    `${ex.name}: ${events.length} events to ${ingestUrl} over ${opts.durationSec} s (seed ${opts.seed}, start ${start})`,
  );
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  const stats = await publishAll(events, {
    ingestUrl,
    token,
    signal: stop.signal,
    log: (l) => console.error(l),
  });
  console.log(`${ex.name}: ${JSON.stringify(stats)}`);
  if (stats.failed > 0) process.exitCode = 1;
}

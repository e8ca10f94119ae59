/**
 * Bench settings from the environment or `--name=value` arguments (arguments
 * win). `QUICK=1` shortens every phase so a run takes under two minutes.
 */
export interface BenchOptions {
  quick: boolean;
  /** Seconds each measured window lasts (after its warm-up). */
  durationSec: number;
  warmupSec: number;
  /**
   * Fan-out, latency and durability: the variants alternate this many times, each slice
   * durationSec / rounds long.
   */
  rounds: number;
  /** Latency phase: offered events per second, one measurement per rate. */
  rates: number[];
  /** Channels the throughput and latency load spreads over (one subscription each). */
  channels: number;
  /** Approximate JSON size of each event's data, in bytes. */
  payloadBytes: number;
  /** Throughput phase: publisher connections and unacked publishes each may have. */
  publishers: number;
  window: number;
  fanoutSubscribers: number;
  /** Idle phase: subscriber connections wanted (capped by the file-descriptor limit). */
  idleConnections: number;
  /** Which phases run, in this order (`--phases=durability` or BENCH_PHASES for some). */
  phases: Phase[];
  /** Services to run under `node --cpu-prof`; profiles land in bench/results/profiles/<run>/. */
  profile: string[];
}

// durability runs its own nats-servers, before the services start, so nothing else loads the
// machine meanwhile.
// rules first of those with the services: route's first start with rules replays INGEST from its
// first message (bench/phases/rules.ts).
// stages after sustained: it leaves the pipeline drained and flowing, as the phases after expect.
export const PHASES = [
  "ceilings",
  "durability",
  "rules",
  "sustained",
  // After sustained, whose single route it measures again beside a second one.
  "replicas",
  "stages",
  "latency",
  "fanout",
  "idle",
  // Last: it starts peers (Centrifugo, Socket.IO) beside the stack and takes jetmesh's idle
  // figure from the idle phase when that ran.
  "peers",
] as const;
export type Phase = (typeof PHASES)[number];

type Source = Record<string, string | undefined>;

function pick(src: Source, args: Source, name: string): string | undefined {
  return args[name] ?? src[`BENCH_${name.toUpperCase().replace(/-/g, "_")}`];
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`${name} must be a positive number, got ${JSON.stringify(text)}`);
  }
  return n;
}

function parseArgs(argv: string[]): Source {
  const out: Source = {};
  for (const a of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}: use --name=value (see bench/options.ts)`);
    out[m[1]] = m[2];
  }
  return out;
}

export function readOptions(env: Source, argv: string[]): BenchOptions {
  const args = parseArgs(argv);
  const quickText = args.quick ?? env.QUICK ?? "";
  const quick = quickText !== "" && quickText !== "0" && quickText !== "false";
  const phasesText = pick(env, args, "phases");
  const phases = phasesText ? phasesText.split(",").map((p) => p.trim()) : [...PHASES];
  for (const p of phases) {
    if (!(PHASES as readonly string[]).includes(p)) {
      throw new Error(`unknown phase ${p}; phases are ${PHASES.join(",")}`);
    }
  }
  const ratesText = pick(env, args, "rates");
  const rates = ratesText
    ? ratesText.split(",").map((r) => positive("rates", r.trim(), 0))
    : [1000, 5000];
  return {
    quick,
    durationSec: positive("duration", pick(env, args, "duration"), quick ? 5 : 20),
    warmupSec: positive("warmup", pick(env, args, "warmup"), quick ? 1.5 : 4),
    rounds: Math.round(positive("rounds", pick(env, args, "rounds"), quick ? 2 : 4)),
    rates,
    channels: Math.round(positive("channels", pick(env, args, "channels"), 64)),
    payloadBytes: Math.round(positive("payload", pick(env, args, "payload"), 200)),
    publishers: Math.round(positive("publishers", pick(env, args, "publishers"), 4)),
    window: Math.round(positive("window", pick(env, args, "window"), 256)),
    fanoutSubscribers: Math.round(
      positive("fanout-subscribers", pick(env, args, "fanout-subscribers"), 1000),
    ),
    idleConnections: Math.round(
      positive("idle-connections", pick(env, args, "idle-connections"), quick ? 5000 : 20000),
    ),
    phases: phases as Phase[],
    profile: (pick(env, args, "profile") ?? "").split(",").map((p) => p.trim()).filter((p) =>
      p !== ""
    ),
  };
}

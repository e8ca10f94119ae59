import t from "tap";
import { readOptions } from "./options.ts";
import type { DurabilityRun } from "./phases/durability.ts";
import type { StageName, StageRun } from "./phases/stages.ts";
import { checkTargets, cpuPerEvent, durabilityTable, stagesTable } from "./report.ts";
import { cpuShare, fmtCount, medianStepSlope, percentile, ratio, summarize } from "./stats.ts";

t.test("nearest-rank percentiles", async (t) => {
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  t.equal(percentile(hundred, 50), 50);
  t.equal(percentile(hundred, 99), 99);
  t.equal(percentile(hundred, 99.9), 100, "p999 of 100 samples is the worst one");
  t.equal(percentile(hundred, 0), 1);
  t.equal(percentile([7], 99.9), 7);
  t.ok(Number.isNaN(percentile([], 50)));
  const thousand = Array.from({ length: 1000 }, (_, i) => 1000 - i);
  const s = summarize(thousand);
  t.same(
    [s.count, s.p50, s.p99, s.p999, s.max],
    [1000, 500, 990, 999, 1000],
    "unsorted input is sorted first",
  );
});

t.test("ratios, rates and formats", async (t) => {
  t.equal(ratio(3, 4), 0.75);
  t.equal(ratio(1, 0), null);
  t.equal(ratio(3100, -201), null, "a negative reference is no reference");
  t.equal(ratio(-5, 4), null);
  t.equal(ratio(undefined, 2), null);
  t.equal(cpuShare(100, 250, 100, 1000), 1.5, "150 ticks at 100 Hz in 1 s is 1.5 cores");
  t.equal(fmtCount(12345), "12.3k");
  t.equal(fmtCount(571000), "571.0k");
  t.equal(fmtCount(1234567), "1.23M");
});

t.test("options: defaults, QUICK, arguments over environment", async (t) => {
  const full = readOptions({}, []);
  t.same(full.rates, [1000, 5000]);
  t.equal(full.idleConnections, 20000);
  const quick = readOptions({ QUICK: "1", BENCH_CHANNELS: "8" }, ["--channels=4", "--rates=500"]);
  t.ok(quick.quick);
  t.equal(quick.channels, 4);
  t.same(quick.rates, [500]);
  t.throws(() => readOptions({}, ["--phases=nope"]), /unknown phase/);
  t.same(readOptions({}, ["--phases=durability"]).phases, ["durability"], "one phase alone");
  t.throws(() => readOptions({}, ["--duration=-1"]), /positive/);
});

t.test("targets are judged on the measured ratios", async (t) => {
  const checks = checkTargets({
    fanout: { ratio: 0.5 } as never,
    idle: { ratio: 2.5 } as never,
    rules: { ratio: 1.6 } as never,
  });
  t.same(checks.map((c) => c.met), [null, null, true, false, false]);
});

t.test("the median step slope ignores a one-off step of the allocators", async (t) => {
  // 1000 B per connection, with the allocator handing 4 MB back once along the way.
  const points: Array<[number, number]> = [
    [0, 80e6],
    [1000, 81e6],
    [2000, 82e6],
    [3000, 83e6],
    [4000, 80e6],
    [5000, 81e6],
    [6000, 82e6],
  ];
  t.equal(medianStepSlope(points), 1000);
  t.equal(medianStepSlope([[0, 1], [10, 21]]), 2);
  t.equal(
    medianStepSlope([[0, 1], [0, 5], [2, 9], [4, 11]]),
    1.5,
    "an even count takes the middle pair's mean; equal x is skipped",
  );
  t.ok(Number.isNaN(medianStepSlope([[0, 1]])));
});

t.test("CPU per event is cores over rate, per process and in all", async (t) => {
  const c = cpuPerEvent(
    { cores: { nats: 0.5, route: 0.25 }, machineBusy: 0.4, load1: [1, 1] },
    5000,
  );
  t.same(c.byProcess, { nats: 100, route: 50 });
  t.equal(c.total, 150);
  t.ok(
    Number.isNaN(cpuPerEvent({ cores: { nats: 0.5 }, machineBusy: 0, load1: [0, 0] }, 0).total),
    "no events, no figure",
  );
});

t.test("durability: each fsync policy against the default of its own topology", async (t) => {
  const run = (
    topology: "single" | "R3",
    sync: "default" | "always",
    perSec: number,
    p50: number,
    p99: number,
  ): DurabilityRun => ({
    topology,
    sync,
    serverSync: sync === "always" ? "always" : "120s",
    publishesPerSec: perSec,
    roundsPerSec: [perSec],
    failed: 0,
    ack: { count: 100, p50, p99, p999: p99, max: p99 },
    cpu: { cores: {}, machineBusy: 0, load1: [0, 0] },
  });
  const lines = durabilityTable({
    store: { dir: "/tmp/x", fstype: "ext4", source: "/dev/vda", mount: "/" },
    inFlight: 1024,
    payloadBytes: 200,
    runs: [
      run("single", "default", 20000, 0.2, 0.4),
      run("single", "always", 1000, 0.6, 4),
      run("R3", "default", 10000, 1, 2),
      run("R3", "always", 5000, 2, 8),
    ],
  });
  t.match(lines[0], "store on ext4 (/dev/vda, /)");
  t.match(
    lines.find((l) => l.startsWith("| single node, `sync_interval: always`")),
    "| 1.00k/s | 0.60 ms | 4.00 ms | 5 %; 3.00×; 10.00× |",
  );
  t.match(
    lines.find((l) => l.startsWith("| 3-node cluster, R3, `sync_interval: always`")),
    "| 50 %; 2.00×; 4.00× |",
  );
});

t.test("stages: a row per stage, the slowest named as the limit, a failed stage shown as n/a", async (t) => {
  const cpu = (cores: Record<string, number>) => ({
    cores,
    machineBusy: 0.9,
    load1: [1, 2] as [
      number,
      number,
    ],
  });
  const run = (stage: StageName, perSec: number, extra: Partial<StageRun> = {}): StageRun => ({
    stage,
    how: `${stage} alone`,
    events: perSec * 5,
    ms: 5000,
    perSec,
    completed: true,
    cpu: cpu({ [stage]: 0.95, nats: 0.4 }),
    ...extra,
  });
  const lines = stagesTable({
    runs: [
      run("ingest", 20_000),
      run("route", 9_000, { startMs: 2500 }),
      run("persist", 30_000, { completed: false }),
      run("notify", 0, { error: "boom" }),
    ],
    limiting: "route",
  });
  const row = (stage: string) =>
    lines.find((l) => l.startsWith(`| ${stage}`) || l.startsWith(`| **${stage}`));
  t.match(
    row("ingest"),
    /^\| ingest \| 20\.0k\/s \| 100\.0k \| 5\.0 s \| ingest alone \| ingest 0\.95, nats 0\.40 \|$/,
  );
  t.match(
    row("route"),
    /^\| \*\*route\*\* \(limits\) \| 9\.00k\/s \| 45\.0k \| 5\.0 s \(first event after 2\.5 s\) \|/,
  );
  t.match(row("persist"), /30\.0k\/s \(not drained in time\)/);
  t.match(row("notify"), /\| n\/a \(boom\) \|/);
  t.ok(lines.some((l) => l.startsWith("- Limiting stage: route, 9.00k/s alone")));
});

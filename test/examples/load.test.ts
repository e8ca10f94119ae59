/**
 * The load generators' expected results against the engine itself: the planned
 * input through one engine per partition (as route will run it, each partition
 * with its own watermark), in send order.
 */
import t from "tap";
import { fileURLToPath } from "node:url";
import { loadNamespaces } from "../../internal/namespaces/load.ts";
import {
  PartitionProcessor,
  ProcessingSet,
  type StepResult,
} from "../../internal/processing/mod.ts";
import type { Example } from "../../examples/load/cli.ts";
import { plan } from "../../examples/load/cli.ts";
import { iot } from "../../examples/iot/load.ts";
import { transactions } from "../../examples/transactions/load.ts";

const PARTITIONS = 4;
const PUBLISHER = "loadgen";

/** A stand-in for the partition hash: any function of the channel will do here. */
function partitionOf(channel: string): number {
  let h = 0;
  for (let i = 0; i < channel.length; i++) h = (h * 31 + channel.charCodeAt(i)) >>> 0;
  return h % PARTITIONS;
}

async function runThrough(ex: Example, file: string, duration: number, rate: number) {
  const set = ProcessingSet.fromConfig(
    loadNamespaces(fileURLToPath(new URL(`../../examples/${file}`, import.meta.url))),
  );
  const start = 1_700_000_000_000;
  const { planned, opts, events } = plan(ex, {
    seed: 5,
    start,
    durationSec: duration,
    keys: 200,
    rate,
  });
  const procs = Array.from({ length: PARTITIONS }, (_, p) => new PartitionProcessor(p, set));
  const results: StepResult[] = [];
  let seq = 0;
  for (const e of events) {
    const p = partitionOf(e.channel);
    results.push(
      await procs[p].step(++seq, {
        v: 1,
        id: `${PUBLISHER}:${e.id}`,
        channel: e.channel,
        ts: e.at,
        publisher: PUBLISHER,
        data: e.data,
      }, 0),
    );
  }
  const outputs = results.flatMap((r) => r.outputs);
  t.same(results.flatMap((r) => r.errors), [], "no rule errors");
  // What EVENTS keeps: first copy per msgID.
  const kept = new Map<string, (typeof outputs)[number]>();
  for (const o of outputs) if (!kept.has(o.msgID)) kept.set(o.msgID, o);
  return {
    expected: ex.expected(planned, opts, PUBLISHER) as Record<string, unknown[]>,
    kept: [...kept.values()],
  };
}

t.test("iot: the windows, alerts and late readings the generator expects", async (t) => {
  const { expected, kept } = await runThrough(iot, "iot/namespaces.yaml", 90, 100);
  const windows = new Map(
    kept.filter((o) => o.kind === "window").map((
      o,
    ) => [`${o.channel} ${JSON.stringify(o.envelope.data)}`, o]),
  );
  const want = expected.windows as Array<{ channel: string; data: unknown }>;
  t.ok(want.length > 500, `${want.length} closed windows expected`);
  const missing = want.filter((w) => !windows.has(`${w.channel} ${JSON.stringify(w.data)}`));
  t.same(missing.slice(0, 3), [], "every expected window published, with the same aggregates");
  const late = kept.filter((o) => o.kind === "late").map((o) =>
    (o.envelope.data as { event: { id: string } }).event.id
  );
  t.ok(expected.late.length > 0, "late readings planned");
  t.same([...new Set(late)].sort(), expected.late, "late readings: exactly the ones planned late");
  const alerts = kept.filter((o) => o.kind === "alert").map((o) => {
    const d = o.envelope.data as { key: string; state: string; source: { windowStart: number } };
    return `${d.key} ${d.source.windowStart} ${d.state}`;
  });
  const wantAlerts = (expected.alerts as Array<{ key: string; windowStart: number; state: string }>)
    .map((a) => `${a.key} ${a.windowStart} ${a.state}`);
  t.ok(wantAlerts.length > 0, "alerts expected");
  t.same(wantAlerts.filter((a) => !alerts.includes(a)), [], "every expected alert published");
});

t.test("transactions: per-minute windows and flagged transactions", async (t) => {
  const { expected, kept } = await runThrough(
    transactions,
    "transactions/namespaces.yaml",
    240,
    25,
  );
  const last = new Map<string, unknown>();
  // Corrections (`revision`) replace a window's result: compare the last one.
  for (const o of kept.filter((o) => o.kind === "window")) {
    const d = o.envelope.data as { account: string; windowStart: number; revision?: number };
    last.set(`${d.account} ${d.windowStart}`, o.envelope.data);
  }
  const want = expected.windows as Array<
    { data: { account: string; windowStart: number; count: number; amount: number } }
  >;
  t.ok(want.length > 100, `${want.length} closed windows expected`);
  const wrong = want.filter((w) => {
    const got = last.get(`${w.data.account} ${w.data.windowStart}`) as {
      count: number;
      amount: number;
    } | undefined;
    return got?.count !== w.data.count || got?.amount !== w.data.amount;
  });
  t.same(wrong.slice(0, 3), [], "count and amount of every closed window");
  const flagged = kept.filter((o) => o.kind === "derived").map((o) =>
    (o.envelope.data as { tx: string }).tx
  ).sort();
  t.same(flagged, expected.flagged, "flagged transactions");
  const late = kept.filter((o) => o.kind === "late").map((o) =>
    (o.envelope.data as { event: { id: string } }).event.id
  );
  t.ok(expected.late.length > 0 && expected.flagged.length > 0, "late and flagged planned");
  t.same([...new Set(late)].sort(), expected.late, "late transactions past the correction time");
});

/**
 * Phase "stages": each stage's own capacity, so the bottleneck shows. The
 * sustained phase caps its load by the backlog no subscriber has yet, so its
 * acked, committed and delivered rates come out equal by construction and
 * cannot tell which stage limits. Here each stage runs with the stages after
 * it held back (their durable consumers paused through the JetStream API, the
 * services left running), on work the stage before it queued up:
 *
 * 1. ingest: publishers as fast as ingest acks, route's consumer paused, so
 *    INGEST fills and nothing downstream competes for the cores;
 * 2. route: persist's consumer paused, route's resumed: route drains the
 *    filled INGEST into EVENTS (no subscriber is connected, so notify's shared
 *    consumer only skips the events);
 * 3. persist: persist's consumer resumed: it drains EVENTS into PostgreSQL;
 * 4. notify: subscribers resume from the cursor before the first of those
 *    events and notify replays them from EVENTS (its catch-up path, paced by
 *    the namespace's replay limit of events per second per subscription, far
 *    above what each channel gets here).
 *
 * Ingest is timed over its window after a warm-up. A draining stage (2–4) is
 * timed from the first event it moved to the end of its queue: the time until
 * that first event (a paused consumer's pull waking up) is reported apart, as
 * `startMs`. Notify is timed from its first subscription on: it replays
 * while the later subscriptions are still being made. Nothing
 * here fails on a timing: a stage that does not finish in time is reported
 * as not drained, with the rate it reached, and the consumers are always
 * resumed for the phases after.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  epochOf,
  EVENTS_STREAM,
  formatCursor,
  INGEST_STREAM,
  partitionsFromMetadata,
  PERSIST_CONSUMER,
  routeConsumerName,
} from "../../subjects/mod.ts";
import { note, progress } from "../progress.ts";
import { type CpuUsage, snapshot, usage } from "../sampler.ts";
import { fmtCount, perSecond } from "../stats.ts";
import { Worker } from "../worker.ts";
import type { Counts } from "../workers/loadgen.ts";
import { committedRows, type Ctx, waitShowing } from "./context.ts";

export const STAGES = ["ingest", "route", "persist", "notify"] as const;
export type StageName = (typeof STAGES)[number];

export interface StageRun {
  stage: StageName;
  /** What the stage did, in words, for the table. */
  how: string;
  /** Events the stage moved. */
  events: number;
  /** Time over which `perSec` was measured. */
  ms: number;
  perSec: number;
  /** Draining stages: from resuming the stage to the first event it moved, not in `ms`. */
  startMs?: number;
  /** Whether the stage finished its queue (ingest: its window) in the time allowed. */
  completed: boolean;
  /** Ingest: every event it acked, warm-up and tail included: what the later stages drain. */
  queued?: number;
  cpu: CpuUsage;
  /** Why the stage could not be measured, if it could not. */
  error?: string;
}

export interface StagesResult {
  runs: StageRun[];
  /** The stage with the lowest rate among those measured: the pipeline's bottleneck. */
  limiting?: StageName;
}

/** Longest a draining stage may take before it is reported as not drained. */
const DRAIN_TIMEOUT_MS = 120_000;
/** A pause that outlasts any run; resumed explicitly. */
const PAUSED_UNTIL = () => new Date(Date.now() + 3_600_000);

export async function stages(ctx: Ctx): Promise<StagesResult> {
  const { opts, stack } = ctx;
  const nc = await connect({ servers: ctx.nats.url, ...ctx.nats.users.admin });
  const jsm = await jetstreamManager(nc);
  const lg = await Worker.start("loadgen", "loadgen.ts");
  const pids = () => ({ ...stack.pids(), nats: ctx.nats.pid ?? -1, loadgen: lg.pid });
  const tag = ctx.tag("st");
  const channels = Array.from({ length: opts.channels }, (_, i) => `bench.${tag}.c${i}`);
  const token = await stack.token("bench-stages");
  const runs: StageRun[] = [];
  const pause = (stream: string, name: string) => jsm.consumers.pause(stream, name, PAUSED_UNTIL());
  const resume = (stream: string, name: string) => jsm.consumers.resume(stream, name);
  // Route reads INGEST through one durable per partition; the stage holds back all of them.
  const partitions = partitionsFromMetadata(
    (await jsm.streams.info(INGEST_STREAM)).config.metadata,
  );
  if (partitions === undefined) throw new Error("INGEST has no partition count: not migrated");
  const routeConsumers = Array.from({ length: partitions }, (_, p) => routeConsumerName(p));
  const pauseRoute = () => Promise.all(routeConsumers.map((c) => pause(INGEST_STREAM, c)));
  const resumeRoute = () => Promise.all(routeConsumers.map((c) => resume(INGEST_STREAM, c)));
  try {
    const before = await jsm.streams.info(EVENTS_STREAM);
    const cursor = formatCursor({ epoch: epochOf(before.created), seq: before.state.last_seq });
    const rows0 = await committedRows(ctx);
    const events0 = before.state.last_seq;

    await pauseRoute();
    const ingest = await measure("ingest", pids, () => ingestAlone(ctx, lg, tag, channels, token));
    runs.push(ingest);
    const queued = ingest.queued ?? 0;
    note(`stages: ingest alone ${fmtCount(ingest.perSec)}/s; ${fmtCount(queued)} events queued`);

    await pause(EVENTS_STREAM, PERSIST_CONSUMER);
    await resumeRoute();
    runs.push(
      await measure("route", pids, async () => ({
        how: "drains the filled INGEST into EVENTS, persist's consumer paused",
        ...(await drain("route alone", queued, async () => {
          const info = await jsm.streams.info(EVENTS_STREAM);
          return info.state.last_seq - events0;
        })),
      })),
    );

    await resume(EVENTS_STREAM, PERSIST_CONSUMER);
    runs.push(
      await measure("persist", pids, async () => ({
        how: "drains EVENTS into PostgreSQL",
        ...(await drain("persist alone", queued, async () => (await committedRows(ctx)) - rows0)),
      })),
    );

    runs.push(
      await measure(
        "notify",
        pids,
        () => notifyAlone(ctx, lg, tag, channels, token, cursor, queued),
      ),
    );
  } finally {
    // Whatever happened, the phases after this one need a flowing pipeline.
    for (
      const [stream, name] of [
        ...routeConsumers.map((c) => [INGEST_STREAM, c] as const),
        [EVENTS_STREAM, PERSIST_CONSUMER] as const,
      ]
    ) {
      await resume(stream, name).catch((err) => note(`stages: could not resume ${name}: ${err}`));
    }
    await lg.call("close", { name: "ingest" }).catch(() => {});
    await lg.call("close", { name: "notify" }).catch(() => {});
    await lg.stop();
    await nc.close();
  }
  const measured = runs.filter((r) => r.error === undefined && r.events > 0);
  const limiting = measured.sort((a, b) => a.perSec - b.perSec)[0]?.stage;
  const result: StagesResult = {
    runs: STAGES.flatMap((s) => runs.filter((r) => r.stage === s)),
    limiting,
  };
  note(
    `stages: ${
      result.runs.map((r) => `${r.stage} ${r.error ? "n/a" : `${fmtCount(r.perSec)}/s`}`).join(", ")
    }; limiting: ${limiting ?? "n/a"}`,
  );
  return result;
}

type Measured = Pick<StageRun, "how" | "events" | "ms" | "completed" | "queued" | "startMs"> & {
  /** When not simply events over ms (a draining stage's rate leaves out its first reading). */
  perSec?: number;
};

/** Runs one stage with a CPU snapshot around it; a stage that throws is reported, not raised. */
async function measure(
  stage: StageName,
  pids: () => Record<string, number>,
  run: () => Promise<Measured>,
): Promise<StageRun> {
  const s0 = snapshot(pids());
  try {
    const m = await run();
    const s1 = snapshot(pids());
    return { stage, ...m, perSec: m.perSec ?? perSecond(m.events, m.ms), cpu: usage(s0, s1) };
  } catch (err) {
    const s1 = snapshot(pids());
    const error = err instanceof Error ? err.message : String(err);
    note(`stages: ${stage} could not be measured: ${error}`);
    return {
      stage,
      how: "",
      events: 0,
      ms: 0,
      perSec: 0,
      completed: false,
      cpu: usage(s0, s1),
      error,
    };
  }
}

/** Publishers as fast as ingest acks, no backlog cap (nothing is delivered meanwhile). */
async function ingestAlone(
  ctx: Ctx,
  lg: Worker,
  tag: string,
  channels: string[],
  token: string,
): Promise<Measured> {
  const { opts, stack } = ctx;
  await lg.call("open", {
    name: "ingest",
    tag,
    channels,
    publishUrl: stack.ingestWs,
    token,
    publishers: opts.publishers,
    payloadBytes: opts.payloadBytes,
    subscribe: false,
  });
  await lg.call("run", { name: "ingest", window: opts.window, backlog: Number.MAX_SAFE_INTEGER });
  const status = async () => {
    const c = await lg.call<Counts>("counts", { name: "ingest" });
    return `stages: ingest alone, acked ${fmtCount(c.acked)} errors ${c.errors}`;
  };
  await waitShowing(opts.warmupSec * 1000, status);
  const c0 = await lg.call<Counts>("counts", { name: "ingest" });
  const t0 = performance.now();
  await waitShowing(opts.durationSec * 1000, status);
  const c1 = await lg.call<Counts>("counts", { name: "ingest" });
  const ms = performance.now() - t0;
  await lg.call("halt", { name: "ingest" });
  // Every publish answered, so the count queued downstream is known.
  let settled = await lg.call<Counts>("counts", { name: "ingest" });
  for (let i = 0; i < 300 && settled.acked + settled.errors < settled.sent; i++) {
    await new Promise((r) => setTimeout(r, 100));
    settled = await lg.call<Counts>("counts", { name: "ingest" });
  }
  if (settled.firstError) note(`stages: ingest errors ${settled.errors}: ${settled.firstError}`);
  await lg.call("close", { name: "ingest" });
  return {
    how: "publishes acked, route's consumer paused",
    events: c1.acked - c0.acked,
    ms,
    completed: true,
    queued: settled.acked,
  };
}

/**
 * Polls `moved()` every 100 ms until it reaches `total`. The rate is taken
 * from the first reading with anything moved to the last, so the wait for the
 * first event (`startMs`) does not count against the stage's capacity.
 */
async function drain(
  what: string,
  total: number,
  moved: () => Promise<number>,
): Promise<Pick<Measured, "events" | "ms" | "completed" | "startMs" | "perSec">> {
  const t0 = performance.now();
  let first: { t: number; n: number } | undefined;
  let n = 0;
  let t = t0;
  while (t - t0 < DRAIN_TIMEOUT_MS) {
    n = Math.min(await moved(), total);
    t = performance.now();
    if (n > 0) first ??= { t, n };
    if (n >= total) break;
    progress(`stages: ${what}, ${fmtCount(n)} of ${fmtCount(total)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const ms = first ? t - first.t : 0;
  return {
    events: n,
    ms,
    completed: n >= total,
    startMs: (first?.t ?? t) - t0,
    perSec: first ? perSecond(n - first.n, ms) : 0,
  };
}

/** Subscribers resume from `cursor`: notify replays the queued events from EVENTS. */
async function notifyAlone(
  ctx: Ctx,
  lg: Worker,
  tag: string,
  channels: string[],
  token: string,
  cursor: string,
  total: number,
): Promise<Measured> {
  const t0 = performance.now();
  await lg.call("open", {
    name: "notify",
    tag,
    channels,
    subscribeUrl: ctx.stack.notifyWs,
    publishUrl: ctx.stack.ingestWs,
    token,
    publishers: 0,
    payloadBytes: ctx.opts.payloadBytes,
    after: cursor,
  });
  // Replays start as each subscription is confirmed, while the others are still being made
  // (the answer waits for the subscription's consumer): timed from the first `sub` sent.
  let c = await lg.call<Counts>("counts", { name: "notify" });
  while (c.delivered < total && performance.now() - t0 < DRAIN_TIMEOUT_MS) {
    progress(`stages: notify alone, delivered ${fmtCount(c.delivered)} of ${fmtCount(total)}`);
    await new Promise((r) => setTimeout(r, 100));
    c = await lg.call<Counts>("counts", { name: "notify" });
  }
  const ms = performance.now() - t0;
  if (c.violations > 0) {
    note(`stages: notify delivered ${c.violations} events out of order or twice`);
  }
  await lg.call("close", { name: "notify" });
  return {
    how:
      `replays them to ${channels.length} subscriptions resuming from a cursor (timed from the first sub)`,
    events: Math.min(c.delivered, total),
    ms,
    completed: c.delivered >= total,
  };
}

/**
 * Phase "rules" (issue 15): what processing rules cost route, as route's CPU
 * per event with examples/iot's rules loaded against plain routing, on the
 * same input in the same run. The input is the IoT example's own
 * (examples/iot/load.ts, planned with `plan`: 1000 devices, 200 readings per
 * second of event time, out of order, duplicated and late ones included),
 * published through ingest with its event times in the past.
 *
 * Route is isolated as the stages phase isolates it: per run route is
 * restarted (on the IoT namespaces file, or on the bench's without rules),
 * warmed up on a first part of its slice of the input (which also makes it
 * take every partition), then its partition durables are paused while the
 * rest fills INGEST, and resumed: a run's figure is route's CPU from the
 * resume until it has acked everything, over the INGEST messages it drained.
 * Persist's durable stays paused throughout, so PostgreSQL's writes do not
 * share the cores; no subscriber is connected, so notify only skips events.
 *
 * The runs go plain, rules, rules, plain, each on the next slice of the
 * input in event time, and each variant's figure pools its two runs: a drift
 * of the shared machine's load over the phase weighs on both alike. Route's
 * first start with rules has no checkpoint, so it replays each partition from
 * INGEST's first message, one message get at a time: hence this phase before
 * every other one with the services, and the rules runs back to back (the
 * second replays nothing; the first, only the first plain run's readings).
 * Route is left running without rules, and persist drained, for the phases
 * after.
 */
import { readFileSync } from "node:fs";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { parse } from "yaml";
import { iot } from "../../examples/iot/load.ts";
import { plan } from "../../examples/load/cli.ts";
import { publishAll, type WireEvent } from "../../examples/load/publish.ts";
import {
  EVENTS_STREAM,
  INGEST_STREAM,
  partitionsFromMetadata,
  PERSIST_CONSUMER,
  routeConsumerName,
} from "../../subjects/mod.ts";
import { TICKS_PER_SEC } from "../proc.ts";
import { note, progress } from "../progress.ts";
import { type CpuUsage, snapshot, usage } from "../sampler.ts";
import { fmtCount, perSecond, ratio } from "../stats.ts";
import { benchNamespacesWith } from "../stack.ts";
import type { Ctx } from "./context.ts";

export type RulesVariant = "rules" | "plain";
const ORDER: RulesVariant[] = ["plain", "rules", "rules", "plain"];

export interface RulesRun {
  variant: RulesVariant;
  /** INGEST messages route drained while measured (the input less what ingest deduplicated). */
  events: number;
  /** What route published to EVENTS for them: the inputs, and the rules' windows, alerts, late copies. */
  published: number;
  ms: number;
  perSec: number;
  /** Whether route drained everything in the time allowed. */
  completed: boolean;
  /** Route's CPU time over `events`, in microseconds. */
  routeUs: number;
  cpu: CpuUsage;
  error?: string;
}

export interface RulesResult {
  devices: number;
  /** Readings per second of event time, as the example plans them. */
  readingsPerSec: number;
  /** Readings published per run before the measured ones, route running. */
  warmup: number;
  runs: RulesRun[];
  /** Route's CPU per event over each variant's runs together, in microseconds. */
  routeUs: Record<RulesVariant, number>;
  /** Route's CPU per event with the rules over plain routing's. */
  ratio: number | null;
}

/** The target of issue 15: the rules cost at most this much route CPU per event. */
export const RULES_TARGET = 1.5;

const IOT_NAMESPACES = new URL("../../examples/iot/namespaces.yaml", import.meta.url);
/** Longest a drain may take before the variant is reported as not drained. */
const DRAIN_TIMEOUT_MS = 120_000;
/**
 * Events per publish request. Ingest stores a request's events channel by channel, so a large
 * request reorders a device's readings against the others' by more than the example plans.
 */
const MAX_BATCH = 100;
const PAUSED_UNTIL = () => new Date(Date.now() + 3_600_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function rules(ctx: Ctx): Promise<RulesResult> {
  const { opts, stack } = ctx;
  const nc = await connect({ servers: ctx.nats.url, ...ctx.nats.users.admin });
  const jsm = await jetstreamManager(nc);
  const partitions = partitionsFromMetadata(
    (await jsm.streams.info(INGEST_STREAM)).config.metadata,
  );
  if (partitions === undefined) throw new Error("INGEST has no partition count: not migrated");
  const durables = Array.from({ length: partitions }, (_, p) => routeConsumerName(p));
  const namespaces = benchNamespacesWith(
    (parse(readFileSync(IOT_NAMESPACES, "utf8")) as { namespaces: unknown[] }).namespaces,
  );
  // Enough for a drain of seconds (route's CPU is read in 10 ms ticks); a full run's longer
  // windows would only lengthen the publishing through ingest.
  const warmup = Math.round(Math.min(opts.warmupSec, 2) * 2000);
  const measured = Math.round(Math.min(opts.durationSec, 10) * 4000);
  const slice = warmup + measured;
  const durationSec = (ORDER.length * slice) / iot.defaults.rate;
  // All in the past, and on the same 2-minute boundary every run (the windows, and the hot
  // devices' period): a run's readings close the same windows as the last run's.
  const start = Math.floor((Date.now() - durationSec * 1000 - 60_000) / 120_000) * 120_000;
  const { events, opts: planned } = plan(iot, { seed: 15, start, durationSec });
  const runs: RulesRun[] = [];
  let running: RulesVariant = "plain";
  await jsm.consumers.pause(EVENTS_STREAM, PERSIST_CONSUMER, PAUSED_UNTIL());
  try {
    for (const [i, variant] of ORDER.entries()) {
      running = variant;
      await stack.restart(
        "route",
        [],
        variant === "rules" ? { JETMESH_NAMESPACES: namespaces.file } : {},
      );
      const token = await stack.token(`bench-rules-${variant}`);
      const input = events.slice(i * slice, (i + 1) * slice);
      const send = async (part: WireEvent[]) => {
        const s = await publishAll(part, {
          ingestUrl: stack.ingestHttp,
          token,
          maxBatch: MAX_BATCH,
        });
        if (s.failed > 0) throw new Error(`${s.failed} of ${part.length} readings refused`);
      };
      runs.push(
        await measureVariant(ctx, jsm, durables, variant, async () => {
          await send(input.slice(0, warmup));
          await drainedOrThrow(`rules: ${variant}, warm-up`, () => backlog(jsm, durables));
        }, () => send(input.slice(warmup))),
      );
    }
  } finally {
    await Promise.all(durables.map((d) => jsm.consumers.resume(INGEST_STREAM, d)))
      .catch((err) => note(`rules: could not resume route's durables: ${err}`));
    if (running !== "plain") {
      await stack.restart("route").catch((err) => note(`rules: route not restarted: ${err}`));
    }
    await jsm.consumers.resume(EVENTS_STREAM, PERSIST_CONSUMER)
      .catch((err) => note(`rules: could not resume persist: ${err}`));
    await drainedOrThrow("rules: persist catching up", async () => {
      const i = await jsm.consumers.info(EVENTS_STREAM, PERSIST_CONSUMER);
      return i.num_pending + i.num_ack_pending;
    }).catch((err) => note(`rules: ${err}`));
    namespaces.remove();
    await nc.close();
  }
  const routeUs = { rules: pooled(runs, "rules"), plain: pooled(runs, "plain") };
  const result: RulesResult = {
    devices: planned.keys,
    readingsPerSec: planned.rate,
    warmup,
    runs,
    routeUs,
    ratio: ratio(routeUs.rules, routeUs.plain),
  };
  note(
    `rules: route CPU per event ${
      runs.map((r) => `${r.variant} ${r.error ? "n/a" : `${r.routeUs.toFixed(0)} µs`}`).join(", ")
    }; rules ${routeUs.rules.toFixed(0)} µs, plain ${routeUs.plain.toFixed(0)} µs, rules/plain ${
      result.ratio === null ? "n/a" : `${result.ratio.toFixed(2)}×`
    }`,
  );
  return result;
}

/** Route's CPU per event over the measured runs of `variant` together; NaN without any. */
function pooled(runs: RulesRun[], variant: RulesVariant): number {
  const ok = runs.filter((r) => r.variant === variant && r.error === undefined && r.events > 0);
  const events = ok.reduce((n, r) => n + r.events, 0);
  return events > 0 ? ok.reduce((us, r) => us + r.routeUs * r.events, 0) / events : NaN;
}

/** Route's unacked and undelivered INGEST messages, all partitions. */
async function backlog(jsm: JetStreamManager, durables: string[]): Promise<number> {
  const infos = await Promise.all(durables.map((d) => jsm.consumers.info(INGEST_STREAM, d)));
  return infos.reduce((n, i) => n + i.num_pending + i.num_ack_pending, 0);
}

/**
 * Warms route up, pauses its durables while `fill` queues the measured input, then times the
 * drain. A variant that throws is reported, not raised.
 */
async function measureVariant(
  ctx: Ctx,
  jsm: JetStreamManager,
  durables: string[],
  variant: RulesVariant,
  warm: () => Promise<void>,
  fill: () => Promise<void>,
): Promise<RulesRun> {
  const lastSeq = async (stream: string) => (await jsm.streams.info(stream)).state.last_seq;
  const pids = () => ({ ...ctx.stack.pids(), nats: ctx.nats.pid ?? -1 });
  let s0 = snapshot(pids());
  try {
    await warm();
    await Promise.all(durables.map((d) => jsm.consumers.pause(INGEST_STREAM, d, PAUSED_UNTIL())));
    const ingest0 = await lastSeq(INGEST_STREAM);
    await fill();
    const queued = (await lastSeq(INGEST_STREAM)) - ingest0;
    const events0 = await lastSeq(EVENTS_STREAM);
    note(`rules: ${variant}, ${fmtCount(queued)} readings queued in INGEST; route resumes`);
    s0 = snapshot(pids());
    await Promise.all(durables.map((d) => jsm.consumers.resume(INGEST_STREAM, d)));
    const left = await waitDrained(
      `rules: ${variant}, route draining`,
      () => backlog(jsm, durables),
    );
    const s1 = snapshot(pids());
    const events = queued - left;
    const ticks = (s1.ticks.route ?? NaN) - (s0.ticks.route ?? NaN);
    return {
      variant,
      events,
      published: (await lastSeq(EVENTS_STREAM)) - events0,
      ms: s1.t - s0.t,
      perSec: perSecond(events, s1.t - s0.t),
      completed: left === 0,
      routeUs: events > 0 ? (ticks / TICKS_PER_SEC) * 1e6 / events : NaN,
      cpu: usage(s0, s1),
    };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    note(`rules: ${variant} could not be measured: ${error}`);
    const s1 = snapshot(pids());
    const base = { events: 0, published: 0, ms: 0, perSec: 0, routeUs: NaN };
    return { variant, ...base, completed: false, cpu: usage(s0, s1), error };
  }
}

/** Polls `left()` every 100 ms until it is 0 or the drain timeout passed; the last reading. */
async function waitDrained(what: string, left: () => Promise<number>): Promise<number> {
  const t0 = performance.now();
  let n = await left();
  while (n > 0 && performance.now() - t0 < DRAIN_TIMEOUT_MS) {
    progress(`${what}, ${fmtCount(n)} left`);
    await sleep(100);
    n = await left();
  }
  return n;
}

async function drainedOrThrow(what: string, left: () => Promise<number>): Promise<void> {
  const n = await waitDrained(what, left);
  if (n > 0) throw new Error(`${what}: ${fmtCount(n)} left after ${DRAIN_TIMEOUT_MS / 1000} s`);
}

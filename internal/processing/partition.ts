/**
 * The processing state of one INGEST partition in route: an engine per namespace
 * with rules, fed in stream order, and when its state may be checkpointed.
 *
 * Order: `step` may be called without awaiting, in the order messages arrive
 * (the relay's `accept`); calls run one after another in that order, because a
 * window's watermark and the late decisions depend on it. Each engine records the
 * last INGEST sequence it took (its position), and skips a message at or below it:
 * a redelivery, or the part of a replay an engine's checkpoint already covers.
 *
 * Checkpoints: a snapshot covers every input up to its position, so it may be
 * saved only once all the outputs of those inputs are PubAcked (otherwise a crash
 * would lose the ones still in flight: nothing would replay them). `checkpointDue`
 * takes the snapshots at a step boundary and holds them; `settled(seq)` reports
 * an input done; `ready()` hands back the held snapshots whose position is done.
 * Pure: the caller saves them (checkpoint.ts) and owns the clock.
 */
import { Engine } from "./engine.ts";
import { type PlannedOutput, planOutputs, type ProcessingSet } from "./route-step.ts";
import { type EngineSnapshot, restore, snapshot } from "./snapshot.ts";
import type { Envelope } from "../../subjects/envelope.ts";
import { DEFAULT_PROCESSING_LIMITS, type ProcessingLimits } from "./types.ts";

export interface StepResult {
  /** What to publish to EVENTS, in order; empty when filtered out without a divert. */
  outputs: PlannedOutput[];
  /** Rule failures: publish the outputs, and park a copy of the input on DLQ with these. */
  errors: string[];
  /** The namespace whose rules ran; undefined when none apply (publish the input as v1 does). */
  namespace?: string;
  /** True when the engine had already taken this sequence: nothing to publish for it. */
  skipped: boolean;
}

export interface PartitionOptions {
  limits?: ProcessingLimits;
  /** Events between checkpoints (default 10 000). */
  everyEvents?: number;
  /** Milliseconds between checkpoints (default 10 s); keep it well under EVENTS' duplicate window. */
  everyMs?: number;
}

class Pending {
  /** Sequences stepped whose outputs are not all PubAcked yet. */
  readonly open = new Set<number>();
}

/** Lowest sequence not yet settled, or Infinity. */
function floor(p: Pending): number {
  let m = Infinity;
  for (const s of p.open) if (s < m) m = s;
  return m;
}

export class PartitionProcessor {
  readonly partition: number;
  #set: ProcessingSet;
  readonly #limits: ProcessingLimits;
  readonly #everyEvents: number;
  readonly #everyMs: number;
  readonly #engines = new Map<string, { engine: Engine; position: number }>();
  readonly #pending = new Pending();
  /** Snapshots taken and waiting for their position to settle: one per namespace at most. */
  readonly #held = new Map<string, EngineSnapshot>();
  #tail: Promise<unknown> = Promise.resolve();
  /**
   * The last sequence stepped, of any namespace: every engine's snapshot covers it
   * (messages of other namespaces do not concern an engine), so a quiet namespace
   * does not hold the replay point back.
   */
  #last = 0;
  #sinceCheckpoint = 0;
  #lastCheckpointAt: number | undefined;

  /**
   * `saved`: the checkpoints loaded for this partition (namespace -> snapshot), at
   * the pinned partition's start. Their positions tell where to replay from.
   */
  constructor(
    partition: number,
    set: ProcessingSet,
    saved: ReadonlyMap<string, EngineSnapshot | undefined> = new Map(),
    o: PartitionOptions = {},
  ) {
    this.partition = partition;
    this.#set = set;
    this.#limits = o.limits ?? DEFAULT_PROCESSING_LIMITS;
    this.#everyEvents = o.everyEvents ?? 10_000;
    this.#everyMs = o.everyMs ?? 10_000;
    for (const ns of set.namespaces) {
      const s = saved.get(ns);
      const rules = set.get(ns)!;
      if (s === undefined) {
        this.#engines.set(ns, { engine: new Engine(rules, this.#limits), position: 0 });
      } else {
        const r = restore(rules, s, this.#limits);
        this.#engines.set(ns, { engine: r.engine, position: positionOf(s) });
      }
    }
    this.#last = this.replayFrom - 1;
  }

  /**
   * Where route must re-read INGEST from for this partition: the sequence after
   * the lowest checkpointed position (1 with no checkpoint). Messages past the
   * consumer's ack floor come again from the durable; the ones up to it must be
   * read with a stream reader and stepped like the others.
   */
  get replayFrom(): number {
    let min = Infinity;
    for (const { position } of this.#engines.values()) min = Math.min(min, position);
    return Number.isFinite(min) ? min + 1 : 1;
  }

  /** Runs an INGEST message through its namespace's rules, after every earlier call. */
  step(seq: number, env: Envelope, routedAt: number): Promise<StepResult> {
    const run = this.#tail.then(() => this.#step(seq, env, routedAt));
    this.#tail = run.catch(() => {});
    return run;
  }

  async #step(seq: number, env: Envelope, routedAt: number): Promise<StepResult> {
    this.#last = Math.max(this.#last, seq);
    const rules = this.#set.rulesFor(env.channel);
    if (rules === undefined) {
      return { outputs: planOutputs(env, [eventOf(env)], routedAt), errors: [], skipped: false };
    }
    const ns = rules.namespace;
    const slot = this.#engines.get(ns)!;
    if (seq <= slot.position) return { outputs: [], errors: [], namespace: ns, skipped: true };
    const r = await slot.engine.process({
      id: env.id,
      channel: env.channel,
      data: env.data,
      ts: env.ts,
    });
    slot.position = seq;
    this.#pending.open.add(seq);
    this.#sinceCheckpoint++;
    return {
      outputs: planOutputs(env, r.outputs, routedAt),
      errors: r.errors,
      namespace: ns,
      skipped: false,
    };
  }

  /** Every output of `seq` is PubAcked (or the input parked on DLQ). */
  settled(seq: number): void {
    this.#pending.open.delete(seq);
  }

  /**
   * True when a checkpoint is due (`everyEvents` events or `everyMs` since the last);
   * `now` is the caller's clock, which only decides when, never what.
   */
  checkpointDue(now: number): boolean {
    this.#lastCheckpointAt ??= now;
    return this.#sinceCheckpoint > 0 &&
      (this.#sinceCheckpoint >= this.#everyEvents || now - this.#lastCheckpointAt >= this.#everyMs);
  }

  /**
   * Takes a snapshot of every engine after the steps queued so far, and holds it
   * until its position settles. A newer one replaces a held one (bounded).
   */
  takeCheckpoint(now: number): Promise<void> {
    const run = this.#tail.then(() => {
      for (const [ns, slot] of this.#engines) {
        slot.position = Math.max(slot.position, this.#last);
        this.#held.set(ns, snapshot(slot.engine, slot.position));
      }
      this.#sinceCheckpoint = 0;
      this.#lastCheckpointAt = now;
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Held snapshots whose inputs are all settled: save them, then they are forgotten. */
  ready(): Array<{ namespace: string; snapshot: EngineSnapshot }> {
    // Cheap when nothing is held: callers may ask after every settle.
    if (this.#held.size === 0) return [];
    const low = floor(this.#pending);
    const out: Array<{ namespace: string; snapshot: EngineSnapshot }> = [];
    for (const [ns, s] of this.#held) {
      if (positionOf(s) < low) {
        out.push({ namespace: ns, snapshot: s });
        this.#held.delete(ns);
      }
    }
    return out;
  }

  /**
   * New rules without a restart, between two steps. An engine whose namespace's
   * rules are unchanged stays as is; a changed one is rebuilt from its own state
   * (unchanged rules keep theirs, changed ones start empty: returned as dropped).
   * Take a checkpoint right after: a replay then starts under the new rules.
   */
  reload(next: ProcessingSet): Promise<string[]> {
    const run = this.#tail.then(() => {
      const dropped: string[] = [];
      const prev = this.#set;
      for (const ns of [...this.#engines.keys()]) {
        if (next.get(ns) === undefined) this.#engines.delete(ns);
      }
      for (const ns of next.namespaces) {
        const cur = this.#engines.get(ns);
        if (cur !== undefined && prev.sameRules(next, ns)) continue;
        if (cur === undefined) {
          this.#engines.set(ns, { engine: new Engine(next.get(ns)!, this.#limits), position: 0 });
          continue;
        }
        const r = restore(next.get(ns)!, snapshot(cur.engine, cur.position), this.#limits);
        dropped.push(...r.dropped.map((d) => `${ns}/${d}`));
        this.#engines.set(ns, { engine: r.engine, position: cur.position });
      }
      this.#set = next;
      return dropped;
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Resolves once every step queued so far is done. */
  async idle(): Promise<void> {
    await this.#tail;
  }
}

function eventOf(env: Envelope) {
  return { kind: "event" as const, id: env.id, channel: env.channel, data: env.data };
}

function positionOf(s: EngineSnapshot): number {
  const p = s.position;
  if (typeof p !== "number" || !Number.isSafeInteger(p) || p < 0) {
    throw new Error(
      `processing snapshot of ${s.namespace}: position ${String(p)} is not a sequence`,
    );
  }
  return p;
}

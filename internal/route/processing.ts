/**
 * Processing rules in route (issue 15; docs/processing.md "How route runs it").
 * Only built when some namespace has rules: without any, route's relay path is
 * v1's, untouched (no queue per partition, no engine, no KV write).
 *
 * Per pinned partition a CheckpointedPartition holds an engine per namespace
 * with rules. An input of such a namespace is stepped in arrival order (in
 * `claim`, called from Relay.accept) and relayed on one queue per partition: a
 * window result can be closed by any key's reading, and every output keeps its
 * order per channel. On its turn its outputs are published with their
 * deterministic msgIDs, in order; then `settled` (checkpoints only cover inputs
 * whose outputs are all PubAcked), then the seen-ids mark, then the ack.
 */
import type { Consumer, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  CHECKPOINT_BUCKET,
  decodeEnvelope,
  type Envelope,
  INGEST_PREFIX,
} from "../../subjects/mod.ts";
import { openBucket, type StreamPublisher, withRetry } from "../bus/mod.ts";
import { Inflight } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  CheckpointedPartition,
  CheckpointStore,
  type PartitionOptions,
  type ProcessingSet,
  type StepResult,
} from "../processing/mod.ts";
import type { RouteMetrics } from "./metrics.ts";
import type { RulesHook } from "./relay.ts";
import { emitOutputs } from "./processing-emit.ts";
import { asJsMsg, replayPartition } from "./replay.ts";
import type { RoutedFrom, SeenIds } from "./seen.ts";

export interface RouteProcessingOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  pub: StreamPublisher;
  seen?: SeenIds;
  log: Logger;
  metrics: RouteMetrics;
  signal: AbortSignal;
  /** Checkpoint cadence (tests shorten it). */
  checkpoints?: PartitionOptions;
}

type Stepped = { proc: CheckpointedPartition; r: StepResult };

/** The partition of `ingest.<p>.<channel>`. */
function partitionOfSubject(subject: string): number {
  const rest = subject.slice(INGEST_PREFIX.length + 1);
  return Number(rest.slice(0, rest.indexOf(".")));
}

export class RouteProcessing implements RulesHook {
  readonly #o: RouteProcessingOptions;
  readonly #store: CheckpointStore;
  #set: ProcessingSet;
  /** Per partition: its state, once opened and replayed. */
  readonly #procs = new Map<number, Promise<CheckpointedPartition>>();
  /** Per partition: its durable, as of the last gain (where a replay stops). */
  readonly #consumers = new Map<number, Consumer>();
  /** Marks and acks off the partition's serial path, as the relay does. */
  readonly #acking = new Inflight();

  private constructor(o: RouteProcessingOptions, set: ProcessingSet, store: CheckpointStore) {
    this.#o = o;
    this.#set = set;
    this.#store = store;
  }

  /** Binds the checkpoint bucket the migration created (not_migrated when it is missing). */
  static async open(o: RouteProcessingOptions, set: ProcessingSet): Promise<RouteProcessing> {
    const { kv } = await openBucket(o.js, CHECKPOINT_BUCKET, "route");
    return new RouteProcessing(o, set, new CheckpointStore(o.nc, kv));
  }

  /**
   * Takes an input of a namespace with rules: steps it now (arrival order), returns its queue
   * and what runs on its turn. Undefined: no rules apply, the relay's v1 path takes it.
   */
  claim(m: JsMsg, env: Envelope): { key: string; run: () => Promise<void> } | undefined {
    if (this.#set.rulesFor(env.channel) === undefined) return undefined;
    // Started now, not on the input's turn: a read need not wait for the inputs ahead of it.
    const routed = this.#o.seen?.routed(env.id);
    // Awaited on the input's turn, where a failure is retried.
    routed?.catch(() => {});
    const p = partitionOfSubject(m.subject);
    let opened = this.#procs.get(p);
    const consumer = this.#consumers.get(p);
    if (opened === undefined && consumer !== undefined) {
      // Released (a hand-over) but still pinned here (the unpin failed): take it up again.
      opened = this.#open(p, consumer);
    }
    const seq = m.info.streamSequence;
    const stepped: Promise<Stepped> = opened === undefined
      ? Promise.reject(new Error(`partition ${p} has no processing state here`))
      : opened.then(async (proc) => ({ proc, r: await proc.step(seq, env, Date.now()) }));
    // Awaited on the input's turn.
    stepped.catch(() => {});
    // NUL: never part of a channel, so never a channel's own queue.
    return { key: `\u0000partition.${p}`, run: () => this.#live(m, env, stepped, routed) };
  }

  async #live(
    m: JsMsg,
    env: Envelope,
    stepped: Promise<Stepped>,
    routed: Promise<RoutedFrom | undefined> | undefined,
  ): Promise<void> {
    const { signal, seen, metrics } = this.#o;
    if (signal.aborted) return;
    const seq = m.info.streamSequence;
    const keepAlive = () => m.working();
    const { proc, r } = await stepped;
    const from = await this.#routedFrom(env, routed, keepAlive);
    await emitOutputs(this.#o, m, env, r, from, keepAlive, true);
    proc.settled(seq);
    const ack = () => {
      m.ack();
      metrics.acked.inc();
    };
    if (from !== undefined || seen === undefined) {
      if (from !== undefined) {
        (from.seq === seq ? metrics.alreadyRouted : metrics.lateRetries).inc();
      }
      return ack();
    }
    this.#acking.track(
      withRetry(() => seen.markRouted(env.id, seq), { signal, onRetry: keepAlive })
        .then(ack)
        .catch((err) =>
          this.#o.log.warn("routed mark not recorded; the event is left for redelivery", {
            err,
            id: env.id,
            seq,
          })
        ),
    );
  }

  async #routedFrom(
    env: Envelope,
    early: Promise<RoutedFrom | undefined> | undefined,
    keepAlive: () => void,
  ): Promise<RoutedFrom | undefined> {
    const seen = this.#o.seen;
    if (seen === undefined) return undefined;
    return await withRetry(() => {
      const lookup = early ?? seen.routed(env.id);
      early = undefined;
      return lookup;
    }, { signal: this.#o.signal, onRetry: keepAlive });
  }

  /**
   * The partition came here (route's `gained`): load its checkpoints (which fences the
   * previous owner), then replay from them up to what the durable delivered, before the
   * durable's first message is stepped.
   */
  async gained(p: number, consumer: Consumer): Promise<void> {
    const prev = this.#procs.get(p);
    prev?.then((proc) => proc.abandon(), () => {});
    this.#consumers.set(p, consumer);
    await this.#open(p, consumer);
  }

  #open(p: number, consumer: Consumer): Promise<CheckpointedPartition> {
    const opening = withRetry(() => this.#openAndReplay(p, consumer), {
      signal: this.#o.signal,
    });
    this.#procs.set(p, opening);
    opening.catch((err) =>
      this.#o.log.error("processing state of a partition not loaded; its events wait", {
        err,
        partition: p,
      })
    );
    return opening;
  }

  async #openAndReplay(p: number, consumer: Consumer): Promise<CheckpointedPartition> {
    const { log, jsm } = this.#o;
    const proc = await CheckpointedPartition.open(this.#store, this.#set, p, {
      ...this.#o.checkpoints,
      onLost: (err) => {
        log.error("processing checkpoint taken by another replica: partition lost here", {
          err,
          partition: p,
        });
      },
      onError: (err) => log.warn("processing checkpoint not saved; the next one retries", { err }),
    });
    try {
      const upTo = (await consumer.info()).delivered.stream_seq;
      const from = proc.replayFrom;
      const n = await replayPartition(jsm, p, from, upTo, (m) => this.#replayOne(proc, asJsMsg(m)));
      log.info("processing state loaded", { partition: p, replayed: n, from, up_to: upTo });
      return proc;
    } catch (err) {
      proc.abandon();
      throw err;
    }
  }

  /** One replayed message: stepped for state; published only what is not out yet. No ack. */
  async #replayOne(proc: CheckpointedPartition, m: JsMsg): Promise<void> {
    let env: Envelope;
    try {
      env = decodeEnvelope(m.data);
    } catch {
      // The durable parks it (or parked it) on DLQ.
      return;
    }
    if (this.#set.rulesFor(env.channel) === undefined) return;
    const seq = m.info.streamSequence;
    const r = await proc.step(seq, env, Date.now());
    const from = await this.#routedFrom(env, undefined, () => {});
    await emitOutputs(this.#o, m, env, r, from, () => {}, false);
    proc.settled(seq);
    const seen = this.#o.seen;
    if (from === undefined && seen !== undefined && !r.skipped) {
      await withRetry(() => seen.markRouted(env.id, seq), { signal: this.#o.signal });
    }
  }

  /**
   * After relay.idle(), before unpinning (hand-over, stop): a last checkpoint of everything, so
   * the next owner replays nothing.
   */
  async release(p: number): Promise<void> {
    const opened = this.#procs.get(p);
    this.#procs.delete(p);
    const proc = await opened?.catch(() => undefined);
    await proc?.close().catch((err) =>
      this.#o.log.warn("last processing checkpoint not saved", { err, partition: p })
    );
  }

  /** Stop: every partition released. */
  async close(): Promise<void> {
    await this.idle();
    await Promise.all([...this.#procs.keys()].map((p) => this.release(p)));
  }

  /** New rules (the namespaces file changed and compiled): every partition moves to them. */
  async reload(next: ProcessingSet): Promise<void> {
    this.#set = next;
    await Promise.all([...this.#procs].map(async ([p, opened]) => {
      const proc = await opened.catch(() => undefined);
      if (proc === undefined || proc.lost) return;
      const dropped = await proc.reload(next);
      if (dropped.length > 0) {
        this.#o.log.warn("rules changed: their window state starts empty", {
          partition: p,
          dropped,
        });
      }
    }));
  }

  async idle(): Promise<void> {
    await this.#acking.settled();
  }
}

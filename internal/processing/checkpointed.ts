/**
 * A partition's processing with its checkpoints: what route holds per pinned
 * partition once the rules are wired (docs/processing.md "How route runs it").
 * It joins a PartitionProcessor (pure) to a PartitionCheckpoint per namespace
 * (KV), so route calls four things:
 *
 * - `CheckpointedPartition.open(store, set, p)` when it gains partition p: loads
 *   (and so fences) every namespace's checkpoint; then replay from `replayFrom`;
 * - `step(seq, env, now)` for each message, in arrival order;
 * - `settled(seq)` once all of that message's outputs are PubAcked (or parked);
 * - `close()` when it stops or hands the partition over: a last checkpoint.
 *
 * Checkpoints are taken every `everyEvents` steps or `everyMs` (a timer too, so
 * a partition that went quiet still gets one) and saved one at a time, in order,
 * once their inputs have settled. A save refused because another replica took the
 * partition ends this one's ownership: `lost` is set, `onLost` called, and `step`
 * refuses from then on.
 */
import type { Envelope } from "../../subjects/envelope.ts";
import {
  CheckpointConflictError,
  type CheckpointStore,
  type PartitionCheckpoint,
} from "./checkpoint.ts";
import { type PartitionOptions, PartitionProcessor, type StepResult } from "./partition.ts";
import type { ProcessingSet } from "./route-step.ts";
import type { EngineSnapshot } from "./snapshot.ts";

export interface CheckpointedOptions extends PartitionOptions {
  /** Another replica holds the partition now: stop stepping and acking it. */
  onLost?: (err: CheckpointConflictError) => void;
  /** A save failed for another reason (NATS unavailable): the next checkpoint retries. */
  onError?: (err: unknown) => void;
  /** Clock, for tests. */
  now?: () => number;
}

export class PartitionLostError extends Error {
  override name = "PartitionLostError";
}

export class CheckpointedPartition {
  readonly processor: PartitionProcessor;
  readonly #cps: Map<string, PartitionCheckpoint>;
  readonly #store: CheckpointStore;
  readonly #o: CheckpointedOptions;
  readonly #now: () => number;
  readonly #timer: ReturnType<typeof setInterval>;
  #saving: Promise<void> = Promise.resolve();
  #taking = false;
  lost: CheckpointConflictError | undefined;

  private constructor(
    processor: PartitionProcessor,
    store: CheckpointStore,
    cps: Map<string, PartitionCheckpoint>,
    o: CheckpointedOptions,
  ) {
    this.processor = processor;
    this.#store = store;
    this.#cps = cps;
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#timer = setInterval(() => this.#maybeCheckpoint(), o.everyMs ?? 10_000);
    // Never what keeps a process alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  static async open(
    store: CheckpointStore,
    set: ProcessingSet,
    partition: number,
    o: CheckpointedOptions = {},
  ): Promise<CheckpointedPartition> {
    const cps = new Map<string, PartitionCheckpoint>();
    const saved = new Map<string, EngineSnapshot | undefined>();
    for (const ns of set.namespaces) {
      const cp = store.partition(ns, partition);
      saved.set(ns, (await cp.load()).snapshot);
      cps.set(ns, cp);
    }
    return new CheckpointedPartition(
      new PartitionProcessor(partition, set, saved, o),
      store,
      cps,
      o,
    );
  }

  /** The INGEST sequence to replay this partition from. */
  get replayFrom(): number {
    return this.processor.replayFrom;
  }

  step(seq: number, env: Envelope, routedAt: number): Promise<StepResult> {
    if (this.lost) {
      return Promise.reject(new PartitionLostError("partition taken by another replica"));
    }
    return this.processor.step(seq, env, routedAt);
  }

  settled(seq: number): void {
    this.processor.settled(seq);
    this.#maybeCheckpoint();
  }

  /** New rules; a checkpoint follows so a replay after a crash starts under them. */
  async reload(next: ProcessingSet): Promise<string[]> {
    const dropped = await this.processor.reload(next);
    for (const ns of next.namespaces) {
      if (!this.#cps.has(ns)) {
        const cp = this.#store.partition(ns, this.processor.partition);
        await cp.load();
        this.#cps.set(ns, cp);
      }
    }
    await this.processor.takeCheckpoint(this.#now());
    this.#flush();
    return dropped;
  }

  /**
   * After the last settle (route's `relay.idle()`): a final checkpoint of
   * everything, saved, so the next owner replays nothing.
   */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    if (this.lost) return;
    await this.processor.takeCheckpoint(this.#now());
    this.#flush();
    await this.#saving;
  }

  /**
   * Given up without a last checkpoint: the partition was gained again (its state is reloaded
   * from KV) or a replay failed. Steps refuse from now on, and no save follows.
   */
  abandon(): void {
    clearInterval(this.#timer);
    this.lost ??= new CheckpointConflictError("partition state abandoned");
  }

  /** Resolves when the saves queued so far are done (tests). */
  async saved(): Promise<void> {
    await this.#saving;
  }

  #maybeCheckpoint(): void {
    if (this.lost) return;
    if (!this.#taking && this.processor.checkpointDue(this.#now())) {
      this.#taking = true;
      this.processor.takeCheckpoint(this.#now()).finally(() => {
        this.#taking = false;
        this.#flush();
      });
    }
    this.#flush();
  }

  /** Saves what is ready, after the saves before it. */
  #flush(): void {
    const ready = this.processor.ready();
    if (ready.length === 0) return;
    this.#saving = this.#saving.then(async () => {
      for (const r of ready) {
        if (this.lost) return;
        try {
          await this.#cps.get(r.namespace)?.save(r.snapshot);
        } catch (err) {
          if (err instanceof CheckpointConflictError) {
            this.lost = err;
            clearInterval(this.#timer);
            this.#o.onLost?.(err);
            return;
          }
          this.#o.onError?.(err);
        }
      }
    });
  }
}

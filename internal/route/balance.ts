import type { JetStreamManager } from "@nats-io/jetstream";
import { INGEST_STREAM, ROUTE_PRIORITY_GROUP, routeConsumerName } from "../../subjects/mod.ts";
import { dropPin, pinOf, sleep } from "../bus/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { RouteMetrics } from "./metrics.ts";

export interface BalancerOptions {
  jsm: JetStreamManager;
  partitions: number;
  log: Logger;
  metrics: RouteMetrics;
  /** Resolves once everything pulled so far is relayed and acked. */
  idle: () => Promise<void>;
  /** After `idle`, before the unpin: the partition's last processing checkpoint. */
  release?: (partition: number) => Promise<void>;
  signal: AbortSignal;
  /** How often the share is checked. */
  intervalMs: number;
  /** How long a handed-over partition is not pulled here, so a waiting replica takes it. */
  cooldownMs: number;
}

/**
 * Shares the partitions among the replicas. With pinned clients the first
 * replica to pull wins every partition; so every `intervalMs` each replica
 * counts the replicas and, holding more than its fair share ceil(P /
 * replicas), hands the surplus over: between two fetches of such a partition
 * (nothing of it on its way here), it waits until everything pulled is acked,
 * unpins it, and does not pull it for `cooldownMs`, while the replicas
 * waiting on it are pinned by their next pull. No election and no state of
 * its own: the server's pins say who holds what.
 *
 * The replicas are counted from what NATS reports: every replica keeps one
 * pull waiting on each partition it does not hold (and on the ones it holds
 * while idle), so the largest `num_waiting` over the partitions' durables is
 * the number of replicas, or one less while every holder is busy. Counting
 * one too few only makes the fair share larger: fewer hand-overs, never one
 * too many.
 */
export class Balancer {
  readonly #o: BalancerOptions;
  readonly #releasing = new Set<number>();
  readonly #timer: ReturnType<typeof setInterval>;
  #checking = false;

  constructor(o: BalancerOptions) {
    this.#o = o;
    this.#timer = setInterval(() => void this.#check(), o.intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  async #check(): Promise<void> {
    if (this.#checking || this.#o.signal.aborted) return;
    this.#checking = true;
    try {
      const { jsm, partitions } = this.#o;
      const waiting = await Promise.all(
        Array.from(
          { length: partitions },
          (_, p) =>
            jsm.consumers.info(INGEST_STREAM, routeConsumerName(p)).then(
              (ci) => ci.num_waiting,
              () => 0,
            ),
        ),
      );
      const replicas = Math.max(1, ...waiting);
      const fair = Math.ceil(partitions / replicas);
      const held = Array.from({ length: partitions }, (_, p) => p).filter((p) =>
        pinOf(INGEST_STREAM, routeConsumerName(p)) !== undefined && !this.#releasing.has(p)
      );
      const surplus = held.length - fair;
      if (surplus <= 0) return;
      const release = held.slice(-surplus);
      for (const p of release) this.#releasing.add(p);
      this.#o.log.info("holding more than a fair share: handing partitions over", {
        replicas,
        fair,
        held: held.length,
        partitions: release,
      });
    } catch (err) {
      this.#o.log.warn("partition share not checked", { err });
    } finally {
      this.#checking = false;
    }
  }

  /** For the partition's pull loop (batches.ts `beforePull`): hands it over if marked. */
  beforePull(partition: number): () => Promise<void> {
    return async () => {
      if (!this.#releasing.has(partition)) return;
      const name = routeConsumerName(partition);
      try {
        if (pinOf(INGEST_STREAM, name) !== undefined) {
          // Everything pulled is relayed and acked first: the next holder finds nothing unacked.
          await this.#o.idle();
          await this.#o.release?.(partition);
          await this.#o.jsm.consumers.unpin(INGEST_STREAM, name, ROUTE_PRIORITY_GROUP);
          dropPin(INGEST_STREAM, name);
          this.#o.metrics.partitionsHandedOver.inc();
          this.#o.log.info("partition handed over", { consumer: name, partition });
        }
      } catch (err) {
        this.#o.log.warn("partition not handed over; keeping it", { err, consumer: name });
        this.#releasing.delete(partition);
        return;
      }
      await sleep(this.#o.cooldownMs, this.#o.signal);
      this.#releasing.delete(partition);
    };
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

import type { JsMsg } from "@nats-io/jetstream";
import { withRetry } from "../bus/mod.ts";
import { Inflight } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { SeenIds } from "./seen.ts";

interface Routed {
  id: string;
  seq: number;
  m: JsMsg;
}

export interface RoutedMarksOptions {
  seen: Pick<SeenIds, "markRouted">;
  log: Logger;
  signal: AbortSignal;
  /**
   * How long the first mark of a batch waits for others. Marks and acks are
   * off the delivery path (the event is in EVENTS already), so waiting costs
   * no latency; at low rates it turns one write and one wake-up of route and
   * nats-server per mark and per ack into one per batch. 0 sends each at once.
   */
  lingerMs: number;
  /** A batch this large goes at once. */
  maxBatch: number;
  /** Acks an input (and counts it). */
  ack: (m: JsMsg) => void;
}

/**
 * The routed marks (seen.ts) of published events, and the acks of their
 * inputs behind them, sent in batches: all the marks of a batch leave in one
 * write, and each input is acked as soon as its own mark is recorded (the
 * acks of one batch's PubAcks leave together too). An input is still never
 * acked before its mark.
 *
 * A crash while marks wait here leaves their inputs unacked and their ids
 * unrecorded, as a crash between a PubAck and its mark always did: the
 * inputs come back after ack_wait, the lookup misses, the republish carries
 * the same msgID and EVENTS drops it within its duplicate window. Waiting
 * widens that window by at most `lingerMs`.
 */
export class RoutedMarks {
  readonly #o: RoutedMarksOptions;
  readonly #inflight = new Inflight();
  #batch: Routed[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(o: RoutedMarksOptions) {
    this.#o = o;
  }

  add(id: string, seq: number, m: JsMsg): void {
    this.#batch.push({ id, seq, m });
    if (this.#batch.length >= this.#o.maxBatch || this.#o.lingerMs === 0) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#o.lingerMs);
  }

  /** Sends what waits now. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    // One tracked promise per batch, not per mark: #mark never rejects.
    this.#inflight.track(Promise.all(batch.map((r) => this.#mark(r))));
  }

  async #mark({ id, seq, m }: Routed): Promise<void> {
    const { seen, signal, log } = this.#o;
    try {
      await withRetry(() => seen.markRouted(id, seq), { signal, onRetry: () => m.working() });
      this.#o.ack(m);
    } catch (err) {
      log.warn("routed mark not recorded; the event is left for redelivery", { err, id, seq });
    }
  }

  /** Sends what waits and resolves when every mark sent is recorded (or given up). */
  async settled(): Promise<void> {
    do {
      this.flush();
      await this.#inflight.settled();
    } while (this.#batch.length > 0);
  }
}

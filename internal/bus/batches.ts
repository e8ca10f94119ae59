import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../log/mod.ts";
import { backoffMs, sleep } from "./retry.ts";

export interface BatchLoopOptions {
  /** Largest batch handed to the handler. */
  maxBatch: number;
  /** Aborting stops pulling: the pull in flight still ends normally and everything it brought is handed over, then the loop ends. */
  signal: AbortSignal;
  log: Logger;
  /** Gets the consumer again after a pull failed (for example, the durable had to be recreated). */
  reopen: () => Promise<Consumer>;
  /**
   * How long a batch that is not full waits for more messages before it is
   * handed over; 0 hands it over at once. A worker off the delivery path
   * (persist) trades a few milliseconds for far fewer, larger batches at
   * low rates, where each batch has a fixed cost (a commit).
   */
  lingerMs?: number;
}

/**
 * How long one pull request waits for messages. A graceful stop waits for the
 * pull in flight to end, so this also bounds how long a stop takes.
 */
const PULL_EXPIRES_MS = 2000;

/**
 * Pulls from a durable consumer and hands messages over in batches: a batch
 * closes when it is full or when nothing more is buffered (after waiting
 * `lingerMs` once for more), so batches grow with load and, without a
 * linger, a lone message waits for nobody. The handler's promise is
 * awaited before the next batch: that is the backpressure. A pull that fails
 * while the service is not stopping is started again, so a worker never
 * idles silently.
 */
export async function consumeBatches(
  consumer: Consumer,
  o: BatchLoopOptions,
  handle: (batch: JsMsg[]) => Promise<void>,
): Promise<void> {
  for (let attempt = 0; !o.signal.aborted; attempt++) {
    try {
      await pullUntilAborted(consumer, o, handle);
      return;
    } catch (err) {
      if (o.signal.aborted) return;
      o.log.warn("pull failed, starting again", { err, attempt });
    }
    await sleep(backoffMs(attempt, 100, 5000), o.signal);
    if (o.signal.aborted) return;
    try {
      consumer = await o.reopen();
      attempt = -1;
    } catch (err) {
      o.log.warn("consumer not available yet", { err });
    }
  }
}

/**
 * One fetch after another. A fetch is a single pull request that the server
 * completes or expires, so stopping between two fetches leaves nothing that
 * was delivered to this process unhandled. Stopping a consume() instead
 * unsubscribes while messages are still on their way: those stay unacked,
 * come back only after ack_wait, and by then newer messages have overtaken
 * them.
 */
async function pullUntilAborted(consumer: Consumer, o: BatchLoopOptions, handle: (batch: JsMsg[]) => Promise<void>): Promise<void> {
  while (!o.signal.aborted) {
    const messages = await consumer.fetch({ max_messages: o.maxBatch * 2, expires: PULL_EXPIRES_MS });
    let batch: JsMsg[] = [];
    let lingered = false;
    for await (const m of messages) {
      batch.push(m);
      if (batch.length < o.maxBatch && messages.getPending() === 0 && !lingered && (o.lingerMs ?? 0) > 0) {
        lingered = true;
        await sleep(o.lingerMs!, o.signal);
        // What arrived meanwhile joins this batch.
        if (messages.getPending() > 0) continue;
      }
      if (batch.length >= o.maxBatch || messages.getPending() === 0) {
        await handle(batch);
        batch = [];
        lingered = false;
      }
    }
    if (batch.length > 0) await handle(batch);
  }
}

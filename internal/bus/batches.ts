import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../log/mod.ts";
import { backoffMs, sleep } from "./retry.ts";

export interface BatchLoopOptions {
  /** Largest batch handed to the handler. */
  maxBatch: number;
  /** Aborting stops pulling; messages already received are still handed over, then the loop ends. */
  signal: AbortSignal;
  log: Logger;
  /** Gets the consumer again after the pull ended on its own (for example, the durable had to be recreated). */
  reopen: () => Promise<Consumer>;
}

/**
 * Pulls from a durable consumer and hands messages over in batches: a batch
 * closes when it is full or when nothing more is buffered, so batches grow
 * with load and a lone message waits for nobody. The handler's promise is
 * awaited before the next batch: that is the backpressure. A pull that ends
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
      await pullOnce(consumer, o, handle);
      if (o.signal.aborted) return;
      o.log.warn("pull ended, starting again");
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

async function pullOnce(consumer: Consumer, o: BatchLoopOptions, handle: (batch: JsMsg[]) => Promise<void>): Promise<void> {
  const messages = await consumer.consume({ max_messages: o.maxBatch * 2 });
  const stop = () => messages.stop();
  o.signal.addEventListener("abort", stop, { once: true });
  try {
    let batch: JsMsg[] = [];
    for await (const m of messages) {
      batch.push(m);
      if (batch.length >= o.maxBatch || messages.getPending() === 0) {
        await handle(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await handle(batch);
  } finally {
    o.signal.removeEventListener("abort", stop);
  }
}

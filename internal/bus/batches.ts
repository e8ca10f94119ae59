import type { Consumer, JsMsg } from "@nats-io/jetstream";

export interface BatchLoopOptions {
  /** Largest batch handed to the handler. */
  maxBatch: number;
  /** Aborting stops pulling; messages already received are still handed over, then the loop ends. */
  signal: AbortSignal;
}

/**
 * Pulls from a durable consumer and hands messages over in batches: a batch
 * closes when it is full or when nothing more is buffered, so batches grow
 * with load and a lone message waits for nobody. The handler's promise is
 * awaited before the next batch: that is the backpressure.
 */
export async function consumeBatches(
  consumer: Consumer,
  o: BatchLoopOptions,
  handle: (batch: JsMsg[]) => Promise<void>,
): Promise<void> {
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

import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../log/mod.ts";
import { keepPin } from "./pins.ts";
import { backoffMs, sleep } from "./retry.ts";

export interface BatchLoopOptions {
  /** Largest batch handed to the handler. */
  maxBatch: number;
  /**
   * Aborting stops pulling: the pull in flight still ends normally and everything it brought
   * is handed over, then the loop ends.
   */
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
  /**
   * Counted up by the caller on every NATS reconnect. Messages the server sent
   * on the lost connection never arrive and come back only after ack_wait; so
   * the pull in flight ends, what arrives after the reconnect is left unacked
   * (it comes back with them, in order), and the next pull starts after
   * `reopen`, which may wait for them. For a worker that must keep order.
   */
  reconnects?: { count: number };
  /**
   * Pull in this priority group of a `pinned_client` consumer (route's
   * partitions): the pin is kept from one fetch to the next (pins.ts), a fetch
   * that learns the pin moved elsewhere ends at once, and `gained` decides
   * what happens to the first messages after the pin came to this process.
   */
  pinned?: {
    group: string;
    /**
     * Awaited before each pull, between fetches (nothing of this consumer is
     * then on its way to the process): route's balancer hands a partition over
     * here and waits before pulling it again.
     */
    beforePull?: () => Promise<void>;
    /**
     * Called before the first batch of a fetch that brought this process a
     * new pin, with the number of messages that fetch has handed over so far.
     * False: the fetch is stopped and everything it brought is dropped
     * unacked (it comes back after ack_wait, in stream order, with whatever
     * the previous holder left); the callback has waited for that already.
     */
    gained: (received: number) => Promise<boolean>;
  };
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
async function pullUntilAborted(
  consumer: Consumer,
  o: BatchLoopOptions,
  handle: (batch: JsMsg[]) => Promise<void>,
): Promise<void> {
  const linger = o.lingerMs ?? 0;
  let reconnects = o.reconnects?.count ?? 0;
  while (!o.signal.aborted) {
    if (o.reconnects !== undefined && o.reconnects.count !== reconnects) {
      reconnects = o.reconnects.count;
      consumer = await o.reopen();
    }
    await o.pinned?.beforePull?.();
    if (o.signal.aborted) return;
    const messages = await consumer.fetch({
      max_messages: o.maxBatch * 2,
      expires: PULL_EXPIRES_MS,
      ...(o.pinned ? { group: o.pinned.group } : {}),
    });
    const settled = endIfServerDropped(consumer, messages, o.log);
    // The pin this fetch started with (undefined: none); a different one after the first
    // message means the pin just came to this process.
    const pinBefore = o.pinned ? keepPin(messages) : undefined;
    if (o.pinned) watchUnpin(messages);
    let checkPin = o.pinned !== undefined;
    let received = 0;
    let batch: JsMsg[] = [];
    // Once per batch: a batch that waited is handed over as soon as nothing more is buffered.
    let lingered = linger === 0;
    try {
      for await (const m of messages) {
        if (o.reconnects !== undefined && o.reconnects.count !== reconnects) {
          messages.stop();
          break;
        }
        batch.push(m);
        received++;
        if (checkPin && o.pinned) {
          checkPin = false;
          const pin = keepPin(messages);
          if (pin !== undefined && pin !== pinBefore && !(await o.pinned.gained(received))) {
            messages.stop();
            batch = [];
            break;
          }
        }
        if (!lingered && batch.length < o.maxBatch && messages.getPending() === 0) {
          lingered = true;
          await sleep(linger, o.signal);
          // What arrived meanwhile joins this batch.
          if (messages.getPending() > 0) continue;
        }
        if (batch.length >= o.maxBatch || messages.getPending() === 0) {
          await handle(batch);
          batch = [];
          lingered = linger === 0;
        }
      }
    } finally {
      settled();
      if (o.pinned) keepPin(messages);
      // Also when the pull fails (a consumer leader change ends it with a 409): what
      // was delivered is handed over now; dropped, it would come back only after
      // ack_wait, behind the events pulled next.
      if (batch.length > 0) await handle(batch);
    }
  }
}

/**
 * After a pull's expiry, how long before asking the server whether it still holds the pull, and
 * then how often.
 */
const DROPPED_CHECK_MS = 300;
const DROPPED_RECHECK_MS = 500;

/**
 * Ends a fetch whose pull request the server no longer holds. nats.js 3.x
 * ends a fetch when the server says the request is over, or after two missed
 * heartbeats. A request can vanish with neither: on a cluster, when the node
 * holding it dies or the consumer's leader moves (the R3 fault run on
 * nats-server 2.15.3 ended four pulls this way, each beside a node kill), and
 * on 2.9.10 also when a pull expired part-filled on a single node
 * (`bench/pull-expiry.ts` shows that stall on 2.9.10 and none on 2.15.3).
 * Meanwhile events pile up behind a fetch that waits two seconds for the
 * heartbeats. So past the expiry the server is asked: with no request
 * waiting on the consumer, nothing more can come for this one (and whatever
 * it sent came before the answer, on the same connection), so the fetch ends
 * and the next pull starts. With another puller's request waiting the check
 * cannot tell, and the heartbeats decide as before. Returns the function to
 * call once the fetch has ended.
 */
function endIfServerDropped(
  consumer: Consumer,
  messages: ConsumerMessages,
  log: Logger,
): () => void {
  let settled = false;
  let timer: ReturnType<typeof setTimeout>;
  const check = async () => {
    try {
      const info = await consumer.info();
      if (settled) return;
      if (info.num_waiting === 0) {
        log.info("pull request no longer on the server: pulling again", {
          consumer: info.name,
          pending: info.num_pending,
        });
        messages.stop();
        return;
      }
    } catch {
      // Unanswered: the heartbeats still end the fetch.
    }
    if (!settled) timer = setTimeout(check, DROPPED_RECHECK_MS);
  };
  timer = setTimeout(check, PULL_EXPIRES_MS + DROPPED_CHECK_MS);
  return () => {
    settled = true;
    clearTimeout(timer);
  };
}

/**
 * Ends a fetch as soon as the server says this client is no longer pinned
 * (status 423): nats.js 3.4 forgets the pin but leaves the fetch waiting for
 * two missed heartbeats, which it then reports as a failed pull.
 */
function watchUnpin(messages: ConsumerMessages): void {
  (async () => {
    for await (const s of messages.status()) {
      if (s.type === "consumer_unpinned") {
        messages.stop();
        return;
      }
    }
  })().catch(() => {});
}

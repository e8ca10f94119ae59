import { JetStreamApiError, type PubAck } from "@nats-io/jetstream";
import { errors, RequestError } from "@nats-io/transport-node";
import type { PublishOptions, StreamPublisher } from "./pipeline.ts";

/**
 * Errors that mean "the publish may not have landed, try again with the same
 * msgID". Seen during leader elections and restarts (the fault suite, test/faults): request
 * timeouts, "jetstream is not enabled", no responders while the stream has no
 * leader, and a dropped connection.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof errors.TimeoutError) return true;
  // Not exported by the public module; matched by name.
  if (err instanceof Error && err.name === "JetStreamNotEnabled") return true;
  if (err instanceof errors.NoRespondersError) return true;
  if (err instanceof RequestError) return true;
  if (err instanceof errors.ConnectionError) return true;
  if (err instanceof JetStreamApiError) return err.status === 503 || err.status === 408;
  return false;
}

/**
 * JetStream's "stream store failed", which a DiscardNew stream at its max_bytes or max_msgs
 * answers.
 */
const STREAM_STORE_FAILED = 10077;

/**
 * The stream refused the message because it is full: it was not stored, and
 * an immediate retry meets the same limit. Status 503 makes it retryable for
 * a worker that can wait; an edge answering a client gives up on it at once.
 */
export function isStreamFull(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === STREAM_STORE_FAILED &&
    /^maximum (bytes|messages) exceeded/.test(err.message);
}

/** Exponential backoff with full jitter, capped. */
export function backoffMs(attempt: number, baseMs = 50, capMs = 2000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.floor(ceiling / 2 + Math.random() * (ceiling / 2));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

export interface RetryOptions {
  /** Stop retrying after this many ms in total; undefined retries until `signal` aborts. */
  deadlineMs?: number;
  signal?: AbortSignal;
  /** Called before each retry, e.g. to log or to extend an ack deadline. */
  onRetry?: (err: unknown, attempt: number) => void;
  /** Retryable errors this caller does not wait out (e.g. `isStreamFull`). */
  giveUpOn?: (err: unknown) => boolean;
}

/**
 * Runs `fn` until it succeeds, it fails with an error that is not retryable,
 * the deadline passes or the signal aborts; throws the last error.
 */
export async function withRetry<T>(fn: () => Promise<T>, retry: RetryOptions = {}): Promise<T> {
  const start = Date.now();
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const outOfTime = retry.deadlineMs !== undefined && Date.now() - start >= retry.deadlineMs;
      if (!isRetryable(err) || retry.giveUpOn?.(err) || outOfTime || retry.signal?.aborted) {
        throw err;
      }
      retry.onRetry?.(err, attempt);
      let wait = backoffMs(attempt);
      if (retry.deadlineMs !== undefined) {
        wait = Math.min(wait, Math.max(0, start + retry.deadlineMs - Date.now()));
      }
      await sleep(wait, retry.signal);
    }
  }
}

/**
 * Publishes with the same options, and so the same msgID, until JetStream answers (see
 * `withRetry`).
 */
export function publishWithRetry(
  pub: StreamPublisher,
  subject: string,
  payload: Uint8Array,
  opts: Partial<PublishOptions>,
  retry: RetryOptions = {},
): Promise<PubAck> {
  return withRetry(() => pub.publish(subject, payload, opts), retry);
}

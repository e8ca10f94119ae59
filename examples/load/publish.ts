/**
 * Sends planned events to ingest's `POST /v1/publish` in batches, each at its
 * send time. One request at a time, so events of a device keep their order; an
 * event refused with a retryable code (`rate_limited`, `overloaded`,
 * `unavailable`) is sent again with the same id, which ingest dedupes.
 */
export interface WireEvent {
  /** Client id; ingest makes the event id `<token sub>:<id>`. */
  id: string;
  channel: string;
  data: unknown;
  /** Epoch ms to send at. */
  at: number;
}

export interface PublishOptions {
  /** Base URL of ingest's HTTP API, e.g. http://localhost:8080. */
  ingestUrl: string;
  token?: string;
  /** Events per request at most (ingest's INGEST_MAX_BATCH is 1000 by default). */
  maxBatch?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface PublishStats {
  sent: number;
  acked: number;
  duplicates: number;
  retries: number;
  failed: number;
}

export class LoadPublishError extends Error {
  override name = "LoadPublishError";
}

const RETRYABLE = new Set(["rate_limited", "overloaded", "unavailable"]);
const MAX_ATTEMPTS = 20;

interface Answer {
  op: "ack" | "error";
  id?: string;
  dup?: boolean;
  code?: string;
  message?: string;
  retryAfterMs?: number;
}

/** A pause that a stop ends early; its abort listener goes with it (one per pause would pile up). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });

async function post(o: PublishOptions, batch: WireEvent[]): Promise<Answer[]> {
  const res = await fetch(new URL("/v1/publish", o.ingestUrl), {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
    },
    body: JSON.stringify(batch.map(({ id, channel, data }) => ({ id, channel, data }))),
    signal: o.signal,
  });
  const body = await res.json().catch(() => undefined) as Answer[] | Answer | undefined;
  if (Array.isArray(body)) return body;
  // A refusal of the whole request (401, 400): nothing was published.
  throw new LoadPublishError(
    `ingest answered ${res.status}: ${body?.message ?? body?.code ?? "no body"}`,
  );
}

export async function publishAll(events: WireEvent[], o: PublishOptions): Promise<PublishStats> {
  const stats: PublishStats = { sent: 0, acked: 0, duplicates: 0, retries: 0, failed: 0 };
  const max = o.maxBatch ?? 500;
  let next = 0;
  /** Refused with a retryable code: sent again first, in their order. */
  let again: Array<{ e: WireEvent; attempt: number }> = [];
  let wait = 0;
  while ((next < events.length || again.length > 0) && !o.signal?.aborted) {
    await sleep(wait, o.signal);
    wait = 0;
    const now = Date.now();
    const batch = again.splice(0, max);
    while (batch.length < max && next < events.length && events[next].at <= now) {
      batch.push({ e: events[next++], attempt: 0 });
    }
    if (batch.length === 0) {
      wait = Math.min(100, events[next].at - now);
      continue;
    }
    const answers = await post(o, batch.map((b) => b.e));
    stats.sent += batch.length;
    const retry: typeof again = [];
    answers.forEach((a, i) => {
      if (a.op === "ack") {
        stats.acked++;
        if (a.dup) stats.duplicates++;
      } else if (RETRYABLE.has(a.code ?? "") && batch[i].attempt < MAX_ATTEMPTS) {
        retry.push({ e: batch[i].e, attempt: batch[i].attempt + 1 });
        wait = Math.max(wait, a.retryAfterMs ?? 200);
      } else {
        stats.failed++;
        o.log?.(`event ${batch[i].e.id} refused: ${a.code} ${a.message ?? ""}`);
      }
    });
    stats.retries += retry.length;
    again = [...retry, ...again];
  }
  return stats;
}

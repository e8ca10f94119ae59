import { backoffDelay } from "./backoff.ts";
import { Connection, type Frame, withQuery } from "./connection.ts";
import { type Ack, type ConnectionState, JetmeshClientError, type SocketOptions } from "./types.ts";

export interface IngestClientOptions extends SocketOptions {
  /** Ingest's WebSocket URL, e.g. `ws://localhost:8080/v1/ws`. */
  url: string;
  /**
   * The producer identity (the name before the `:` in event ids; the envelope's `publisher`)
   * when ingest runs without tokens (development); with tokens, the token's `sub` is.
   */
  publisher?: string;
}

interface Pending {
  id: string;
  channel: string;
  data: unknown;
  resolve(ack: Ack): void;
  reject(err: Error): void;
  attempt: number;
  retry?: ReturnType<typeof setTimeout>;
}

/**
 * Answers that mean "not stored, send the same event again later" (`rate_limited`: after its
 * `retryAfterMs`).
 */
const RETRYABLE = new Set(["unavailable", "overloaded", "rate_limited"]);

/**
 * The SDK's connection to ingest: publishes and resolves each publish with its ack. (Formerly
 * `Publisher`, an alias that still works.)
 *
 * Per channel, at most one event is on the wire without an ack; the next one
 * waits for it. Ingest stores concurrent publishes in arrival order, so a
 * resent event would land after later ones: waiting keeps every channel in
 * publish order through failures. Channels do not wait for each other.
 *
 * An event whose ack did not arrive (the connection dropped, ingest answered
 * `unavailable`) is sent again with the same id, which ingest acks as
 * `dup: true` when it had stored it already: never stored twice.
 */
export class IngestClient {
  readonly #conn: Connection;
  readonly #o: IngestClientOptions;
  /** Per channel, the events not yet acked in publish order; the first is the one on the wire. */
  readonly #queues = new Map<string, Pending[]>();
  readonly #byId = new Map<string, Pending>();
  readonly #idPrefix = randomToken();
  #counter = 0;
  /**
   * Waiting for the answer to an `auth` frame: `authed`, or an error without an id (ingest
   * answers publishes by id).
   */
  #authWaiters: Array<(f: Frame | undefined) => void> = [];

  constructor(o: IngestClientOptions) {
    this.#o = o;
    this.#conn = new Connection(withQuery(o.url, { publisher: o.publisher }), o, {
      open: () => this.#sendHeads(),
      frame: (f) => this.#onFrame(f),
      lost: () => this.#authWaiters.splice(0).forEach((w) => w(undefined)),
      auth: (token) =>
        new Promise((resolve) => {
          if (this.#conn.send({ op: "auth", token })) this.#authWaiters.push(resolve);
          else resolve(undefined);
        }),
      failed: (err) => this.#rejectAll(err),
    });
  }

  get state(): ConnectionState {
    return this.#conn.state;
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    return this.#conn.onState(listener);
  }

  /**
   * Token problems of the connection (see Connection.onError); a publish's own refusal rejects
   * that publish.
   */
  onError(listener: (err: JetmeshClientError) => void): () => void {
    return this.#conn.onError(listener);
  }

  /** How many publishes wait for their ack. */
  get pending(): number {
    return this.#byId.size;
  }

  /**
   * Publishes `data` (anything JSON can carry) on a concrete channel. The id
   * defaults to a fresh unique one; give your own to make a retry across
   * restarts of your application recognisable.
   */
  publish(channel: string, data: unknown, opts: { id?: string } = {}): Promise<Ack> {
    if (this.#conn.state === "closed") return Promise.reject(this.#conn.closedBy);
    const id = opts.id ?? `${this.#idPrefix}-${++this.#counter}`;
    if (this.#byId.has(id)) {
      return Promise.reject(
        new JetmeshClientError("bad_id", `event ${id} is still waiting for its ack`),
      );
    }
    return new Promise<Ack>((resolve, reject) => {
      const p: Pending = { id, channel, data, resolve, reject, attempt: 0 };
      this.#byId.set(id, p);
      const queue = this.#queues.get(channel);
      if (queue) return queue.push(p);
      this.#queues.set(channel, [p]);
      this.#send(p);
    });
  }

  /** Closes the connection; publishes still waiting are rejected with code `closed`. */
  close(): void {
    this.#conn.close();
    this.#rejectAll(
      new JetmeshClientError("closed", "the publisher was closed before the event was acked"),
    );
  }

  #rejectAll(err: JetmeshClientError): void {
    for (const p of this.#byId.values()) {
      clearTimeout(p.retry);
      p.reject(err);
    }
    this.#byId.clear();
    this.#queues.clear();
  }

  #send(p: Pending): void {
    this.#conn.send({ op: "pub", id: p.id, channel: p.channel, data: p.data });
  }

  /** On every (re)connect: whatever was on the wire or waiting to be retried goes now, same ids. */
  #sendHeads(): void {
    for (const [first] of this.#queues.values()) {
      clearTimeout(first.retry);
      first.retry = undefined;
      this.#send(first);
    }
  }

  #onFrame(f: Frame): void {
    if (
      f.op === "authed" || (f.op === "error" && f.id === undefined && f.code !== "slow_consumer")
    ) return this.#authWaiters.shift()?.(f);
    const p = typeof f.id === "string" ? this.#byId.get(f.id) : undefined;
    if (!p) return;
    if (f.op === "ack") {
      this.#done(p);
      p.resolve({ id: p.id, seq: f.seq as number, dup: f.dup as boolean });
    } else if (f.op === "error" && RETRYABLE.has(f.code as string)) {
      // Only the channel's head is on the wire, so waiting here keeps the channel in order.
      const wait = f.code === "rate_limited" && typeof f.retryAfterMs === "number"
        ? f.retryAfterMs
        : backoffDelay(p.attempt++, this.#o.backoff);
      p.retry = setTimeout(() => {
        p.retry = undefined;
        this.#send(p);
      }, wait);
    } else if (f.op === "error") {
      this.#done(p);
      p.reject(new JetmeshClientError(String(f.code), String(f.message)));
    }
  }

  /** Takes an answered event off its channel's queue and puts the next one on the wire. */
  #done(p: Pending): void {
    this.#byId.delete(p.id);
    const queue = this.#queues.get(p.channel)!;
    queue.shift();
    if (queue.length === 0) this.#queues.delete(p.channel);
    else this.#send(queue[0]);
  }
}

/**
 * 12 random base-36 characters: unique ids without crypto.randomUUID, which browsers offer only
 * on https.
 */
function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => (b % 36).toString(36)).join("");
}

/** @deprecated Renamed `IngestClient`; this alias stays so that existing code keeps working. */
export const Publisher = IngestClient;
/** @deprecated Renamed `IngestClient`. */
export type Publisher = IngestClient;
/** @deprecated Renamed `IngestClientOptions`. */
export type PublisherOptions = IngestClientOptions;

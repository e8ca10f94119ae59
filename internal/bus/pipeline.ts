import { JetStreamApiError, type PubAck } from "@nats-io/jetstream";
import {
  createInbox,
  errors,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  RequestError,
} from "@nats-io/transport-node";
import { MSG_ID_HEADER } from "../../subjects/mod.ts";

/** The part of a JetStream publish jetmesh uses; `JetStreamClient` has the same shape. */
export interface PublishOptions {
  msgID: string;
  /** Milliseconds to wait for the PubAck. */
  timeout: number;
  headers: MsgHdrs;
}

/**
 * Publishes to a JetStream stream with a msgID and resolves with the PubAck: the bus side of
 * ingest and route (`PipelinedPublisher`, or a test's fake). Not the SDK's `IngestClient`, and
 * not an event's producer (the envelope's `publisher` field).
 */
export interface StreamPublisher {
  publish(subject: string, payload: Uint8Array, opts?: Partial<PublishOptions>): Promise<PubAck>;
}

interface Pending {
  resolve(value: PubAck | Msg): void;
  reject(err: Error): void;
  subject: string;
  deadline: number;
  /** Resolve with the PubAck read from the reply, rather than the reply itself. */
  pubAck: boolean;
}

/**
 * The error a status reply (no JetStream behind the subject, no leader yet) stands for, as the
 * client would raise it.
 */
export function statusError(h: MsgHdrs, subject: string): Error {
  return h.code === 503
    ? new errors.NoRespondersError(subject)
    : new RequestError(`${h.code} ${h.description}`);
}

/**
 * How often deadlines are checked while requests are outstanding: a timeout fires up to this
 * late. With none outstanding no timer runs, so an idle service is not woken for nothing.
 */
const SWEEP_MS = 100;
const decoder = new TextDecoder();

/**
 * JetStream publishes (and other requests: seen.ts's direct gets) over one
 * reply subscription, answered from a map. The client's own `js.publish` goes through a request
 * per publish, and
 * nats-core 3.4 builds an Error with a stack trace for every request that
 * completes (measured with --cpu-prof under `make bench`), plus a timer and promises of its own: at the rates
 * ingest publishes, that was the largest single cost in its profile. Errors
 * come out as the client's own (TimeoutError, NoRespondersError,
 * JetStreamApiError, RequestError), so `isRetryable` treats them the same.
 *
 * `inboxPrefix` must be the connection's own (`inboxPrefix(service)`): a
 * service's NATS user may only read its own inboxes.
 */
export class PipelinedPublisher implements StreamPublisher {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #pending = new Map<string, Pending>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #next = 0;

  constructor(nc: NatsConnection, inboxPrefix: string, timeoutMs = 5000) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
    this.#prefix = createInbox(inboxPrefix);
    nc.subscribe(`${this.#prefix}.*`, { callback: (_err, m) => this.#answer(m) });
    nc.closed().then(() => this.#failAll(new RequestError("connection closed")));
  }

  publish(
    subject: string,
    payload: Uint8Array,
    opts: Partial<PublishOptions> = {},
  ): Promise<PubAck> {
    let h = opts.headers;
    if (opts.msgID !== undefined) {
      h ??= natsHeaders();
      h.set(MSG_ID_HEADER, opts.msgID);
    }
    return this.#send(subject, payload, h, opts.timeout, true) as Promise<PubAck>;
  }

  /**
   * A request over the same reply subscription, answered with the reply as it
   * came: status replies (such as a direct get's 404) are for the caller to read.
   */
  request(
    subject: string,
    payload: Uint8Array,
    opts: { headers?: MsgHdrs; timeout?: number } = {},
  ): Promise<Msg> {
    return this.#send(subject, payload, opts.headers, opts.timeout, false) as Promise<Msg>;
  }

  #send(
    subject: string,
    payload: Uint8Array,
    headers: MsgHdrs | undefined,
    timeout: number | undefined,
    pubAck: boolean,
  ): Promise<PubAck | Msg> {
    const token = (this.#next++).toString(36);
    if (this.#sweeper === undefined && !this.#closed) {
      this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
      // The sweeper must not keep the process alive.
      (this.#sweeper as { unref?: () => void }).unref?.();
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(token, {
        resolve,
        reject,
        subject,
        deadline: performance.now() + (timeout ?? this.#timeoutMs),
        pubAck,
      });
      try {
        this.#nc.publish(subject, payload, { reply: `${this.#prefix}.${token}`, headers });
      } catch (err) {
        this.#pending.delete(token);
        reject(err);
      }
    });
  }

  #answer(m: Msg): void {
    const token = m.subject.slice(this.#prefix.length + 1);
    const p = this.#pending.get(token);
    if (!p) return;
    this.#pending.delete(token);
    if (!p.pubAck) return p.resolve(m);
    // A status reply with no JetStream behind the subject (no stream, or no leader yet).
    if (m.headers?.hasError) return p.reject(statusError(m.headers, p.subject));
    try {
      const v = JSON.parse(decoder.decode(m.data));
      if (v.error) p.reject(new JetStreamApiError(v.error));
      else {p.resolve({
          stream: v.stream,
          seq: v.seq,
          duplicate: v.duplicate === true,
          domain: v.domain ?? "",
        });}
    } catch (err) {
      p.reject(new RequestError(`unreadable PubAck: ${(err as Error).message}`));
    }
  }

  #sweep(): void {
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
      return;
    }
    const now = performance.now();
    for (const [token, p] of this.#pending) {
      if (p.deadline > now) continue;
      this.#pending.delete(token);
      p.reject(new errors.TimeoutError());
    }
  }

  #failAll(err: Error): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}

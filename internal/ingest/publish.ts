/**
 * Ingest's publish path, shared by its WebSocket and HTTP edges: `admit` (rates, sizes,
 * authorization) and `publishEvent` (the envelope, stamped with the caller as its producer, onto
 * INGEST with the event id as msgID).
 */
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  assignClientId,
  encodeEnvelope,
  type Envelope,
  ENVELOPE_VERSION,
  eventId,
  INGEST_STREAM,
  ingestSubject,
  TRACEPARENT_HEADER,
} from "../../subjects/mod.ts";
import { type Caller, publisherOf } from "../auth/mod.ts";
import type { Guard } from "../edge/mod.ts";
import { isRetryable, isStreamFull, publishWithRetry, type StreamPublisher } from "../bus/mod.ts";
import { errorMessage, JetmeshError } from "../errors/mod.ts";
import type { AckFrame, PubFrame } from "../protocol/mod.ts";
import {
  ATTR,
  endSpan,
  isTraceparent,
  type Span,
  SpanKind,
  type Tracing,
} from "../telemetry/mod.ts";
import type { IngestMetrics } from "./metrics.ts";

/** A publish as it arrived, with who sent it. */
export interface PublishRequest {
  caller: Caller;
  /** The client's address: an anonymous caller's rate is counted by it. */
  address: string;
  frame: PubFrame;
  /** The HTTP request's W3C trace context; the frame's own wins over it. */
  traceparent?: string;
}

/** What the publish path needs: the bus, the guard, limits and telemetry. */
export interface PublishDeps {
  /** Ingest's pipelined publisher (internal/bus/pipeline.ts). */
  pub: StreamPublisher;
  /** P, from INGEST's metadata (requirePartitions): picks `ingest.<partition>.<channel>`. */
  partitions: number;
  guard: Guard;
  maxEventBytes: number;
  publishTimeoutMs: number;
  signal: AbortSignal;
  metrics: IngestMetrics;
  /** Absent: tracing is off. */
  tracing?: Tracing;
}

/**
 * What a publish must pass before it costs anything: the caller's rate in the
 * channel's namespace, then its right to the channel. The rate comes first so
 * that forbidden publishes use it up too: a flood of them is rate-limited (and
 * its connection closed, see abuse.ts) like any other. Returns the namespace's
 * limit on event data. Synchronous, so a flood of refused publishes is answered
 * within the frame's own callback, where the answers leave in one write.
 */
export function admit(o: PublishDeps, r: PublishRequest): number {
  o.metrics.received.inc();
  const ns = o.guard.policy.resolve(r.frame.channel);
  o.guard.limit(r.caller, r.address, "publish", ns);
  // The policy's own check: Guard.authorize would resolve the namespace a second time.
  o.guard.policy.authorize(r.caller, "publish", r.frame.channel);
  return ns.limits.maxPayloadBytes;
}

/**
 * Size of the envelope's `data` as encoded on the bus: the envelope less one with `data` null
 * (one byte in msgpack).
 */
function dataBytes(env: Envelope, payload: Uint8Array): number {
  return payload.length - encodeEnvelope({ ...env, data: null }).length + 1;
}

/**
 * Turns an admitted publish (`maxDataBytes` from `admit`) into an event on INGEST and answers
 * only after
 * JetStream acknowledged it. The msgID is the event id, so a retry of the same
 * client id inside the duplicate window is acked `dup: true` with the original seq.
 *
 * The event's trace starts here, as a child of the client's `traceparent` (the
 * frame's field, else the HTTP header passed as `traceparent`) when it sent one.
 */
export async function publishEvent(
  o: PublishDeps,
  r: PublishRequest,
  maxDataBytes: number,
): Promise<AckFrame> {
  const pub = r.frame;
  const publisher = publisherOf(r.caller);
  const clientId = pub.id ?? assignClientId();
  const env: Envelope = {
    v: ENVELOPE_VERSION,
    id: eventId(publisher, clientId),
    channel: pub.channel,
    ts: Date.now(),
    publisher,
    data: pub.data,
  };
  const payload = encodeEnvelope(env);
  if (payload.length > o.maxEventBytes) {
    throw new JetmeshError(
      "too_large",
      `event is ${payload.length} bytes; the limit is ${o.maxEventBytes}`,
    );
  }
  const size = dataBytes(env, payload);
  if (size > maxDataBytes) {
    throw new JetmeshError(
      "too_large",
      `data is ${size} bytes encoded; channel ${pub.channel} allows ${maxDataBytes}`,
    );
  }
  const subject = ingestSubject(pub.channel, o.partitions);
  const parent = pub.traceparent ?? r.traceparent;
  const h = natsHeaders();
  let span: Span | undefined;
  if (o.tracing !== undefined) {
    span = o.tracing.start("ingest publish", SpanKind.PRODUCER, parent, {
      [ATTR.messagingSystem]: "nats",
      [ATTR.operation]: "publish",
      [ATTR.destination]: subject,
      [ATTR.stream]: INGEST_STREAM,
      [ATTR.eventId]: env.id,
      [ATTR.channel]: env.channel,
      [ATTR.publisher]: publisher,
    });
    o.tracing.inject(span, h);
  } else if (parent !== undefined && isTraceparent(parent)) {
    // Not tracing here, but a later hop may: pass the client's context on untouched.
    h.set(TRACEPARENT_HEADER, parent);
  }
  const started = performance.now();
  try {
    let retried = false;
    const pa = await publishWithRetry(
      o.pub,
      subject,
      payload,
      // Dedupe (docs/dedupe.md), hop 1: INGEST drops a retry of this event id inside its window.
      { msgID: env.id, headers: h, timeout: Math.max(1000, Math.floor(o.publishTimeoutMs / 2)) },
      {
        deadlineMs: o.publishTimeoutMs,
        signal: o.signal,
        onRetry: () => (retried = true),
        giveUpOn: isStreamFull,
      },
    );
    // After our own retry, "duplicate" most likely means our first attempt landed unacknowledged:
    // to this client it is the first send, not a repeat.
    const dup = pa.duplicate && !retried;
    o.metrics.publishAck.observe((performance.now() - started) / 1000);
    (dup ? o.metrics.duplicates : o.metrics.published).inc();
    o.metrics.acked.inc();
    span?.setAttribute(ATTR.streamSeq, pa.seq);
    span?.setAttribute(ATTR.duplicate, dup);
    endSpan(span);
    return { op: "ack", id: clientId, seq: pa.seq, dup };
  } catch (err) {
    o.metrics.failed.inc();
    endSpan(span, err);
    if (isStreamFull(err)) {
      // Not stored, so not acked: the client still holds the event. INGEST refuses rather
      // than drop accepted events (subjects/streams.ts).
      throw new JetmeshError(
        "unavailable",
        `stream full: ${INGEST_STREAM} is at its INGEST_MAX_BYTES; not accepted, retry later with the same id`,
        { cause: err },
      );
    }
    if (isRetryable(err) || o.signal.aborted) {
      throw new JetmeshError(
        "unavailable",
        `event store unavailable, retry with the same id: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    throw new JetmeshError("internal", `publish failed: ${errorMessage(err)}`, { cause: err });
  }
}

import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  assignClientId,
  encodeEnvelope,
  type Envelope,
  ENVELOPE_VERSION,
  eventId,
  ingestSubject,
  TRACEPARENT_HEADER,
} from "../../subjects/mod.ts";
import { isRetryable, publishWithRetry } from "../bus/mod.ts";
import { errorMessage, JetmeshError } from "../errors/mod.ts";
import type { AckFrame, PubFrame } from "../protocol/mod.ts";

export interface PublisherOptions {
  js: JetStreamClient;
  maxEventBytes: number;
  publishTimeoutMs: number;
  signal: AbortSignal;
}

const traceparentRe = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Turns a validated publish into an event on INGEST and answers only after
 * JetStream acknowledged it. The msgID is the event id, so a retry of the same
 * client id inside the duplicate window is acked `dup: true` with the original seq.
 */
export async function publishEvent(o: PublisherOptions, publisher: string, pub: PubFrame): Promise<AckFrame> {
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
    throw new JetmeshError("too_large", `event is ${payload.length} bytes; the limit is ${o.maxEventBytes}`);
  }
  const h = natsHeaders();
  if (pub.traceparent !== undefined && traceparentRe.test(pub.traceparent)) h.set(TRACEPARENT_HEADER, pub.traceparent);
  try {
    let retried = false;
    const pa = await publishWithRetry(
      o.js,
      ingestSubject(pub.channel),
      payload,
      { msgID: env.id, headers: h, timeout: Math.max(1000, Math.floor(o.publishTimeoutMs / 2)) },
      { deadlineMs: o.publishTimeoutMs, signal: o.signal, onRetry: () => (retried = true) },
    );
    // After our own retry, "duplicate" most likely means our first attempt landed unacknowledged:
    // to this client it is the first send, not a repeat.
    return { op: "ack", id: clientId, seq: pa.seq, dup: pa.duplicate && !retried };
  } catch (err) {
    if (isRetryable(err) || o.signal.aborted) {
      throw new JetmeshError("unavailable", `event store unavailable, retry with the same id: ${errorMessage(err)}`, { cause: err });
    }
    throw new JetmeshError("internal", `publish failed: ${errorMessage(err)}`, { cause: err });
  }
}

import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  DLQ_DELIVERIES_HEADER,
  DLQ_REASON_HEADER,
  DLQ_SEQ_HEADER,
  DLQ_STREAM_HEADER,
  dlqSubject,
  MSG_ID_HEADER,
  TRACEPARENT_HEADER,
} from "../../subjects/mod.ts";
import { publishWithRetry } from "./retry.ts";

/**
 * Parks a message that cannot be processed on DLQ with why and where it came
 * from, then acks it so it no longer blocks its consumer. The DLQ msgID is
 * derived from the source position, so a crash between the two steps cannot
 * park it twice.
 */
export async function deadLetter(
  js: JetStreamClient,
  service: string,
  channel: string,
  m: JsMsg,
  reason: string,
  /** Processing attempts made, counting JetStream redeliveries. */
  deliveries: number,
  signal: AbortSignal,
  /**
   * False parks a copy and leaves the message to the caller: route's processing rules publish
   * an input's outputs and park it only for the rules that failed, and a replayed message
   * (ordered consumer) has nothing to ack.
   */
  ack = true,
): Promise<void> {
  const h = natsHeaders();
  h.set(DLQ_REASON_HEADER, reason.replace(/[\r\n]+/g, " ").slice(0, 1024));
  h.set(DLQ_STREAM_HEADER, m.info.stream);
  h.set(DLQ_SEQ_HEADER, String(m.info.streamSequence));
  h.set(DLQ_DELIVERIES_HEADER, String(deliveries));
  const original = m.headers?.get(MSG_ID_HEADER);
  if (original) h.set(MSG_ID_HEADER.replace("Nats-", "Jetmesh-Original-"), original);
  const tp = m.headers?.get(TRACEPARENT_HEADER);
  if (tp) h.set(TRACEPARENT_HEADER, tp);
  await publishWithRetry(js, dlqSubject(service, channel), m.data, {
    msgID: `dlq:${m.info.stream}:${m.info.streamSequence}`,
    headers: h,
  }, { signal });
  if (ack) await m.ackAck();
}

/**
 * Publishing what the rules made of one input (processing.ts): its outputs with
 * their deterministic msgIDs, in order, and a copy of the input on DLQ when a
 * rule failed.
 */
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import {
  encodeEnvelope,
  type Envelope,
  eventsSubject,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
} from "../../subjects/mod.ts";
import { deadLetter, isRetryable, publishWithRetry, type StreamPublisher } from "../bus/mod.ts";
import { errorMessage } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { StepResult } from "../processing/mod.ts";
import type { RouteMetrics } from "./metrics.ts";
import type { RoutedFrom } from "./seen.ts";

export interface EmitDeps {
  js: JetStreamClient;
  pub: StreamPublisher;
  log: Logger;
  metrics: RouteMetrics;
  signal: AbortSignal;
}

/**
 * Publishes a stepped input's outputs, in order. Routed before at this very sequence: all of
 * them went out then, nothing again. Routed at another sequence (a late client retry): the
 * input itself is not published again, what the rules created is (a replay computes the
 * same). Rule errors park a copy of the input on DLQ, once.
 */
export async function emitOutputs(
  d: EmitDeps,
  m: JsMsg,
  env: Envelope,
  r: StepResult,
  from: RoutedFrom | undefined,
  keepAlive: () => void,
  live: boolean,
): Promise<void> {
  if (r.skipped) return;
  const { pub, signal, log, metrics } = d;
  const seq = m.info.streamSequence;
  const all = from === undefined;
  const created = all || from.seq !== seq;
  const h = natsHeaders();
  for (const k of [TRACEPARENT_HEADER, TRACESTATE_HEADER]) {
    const v = m.headers?.get(k);
    if (v) h.set(k, v);
  }
  const problems = [...r.errors];
  for (const o of r.outputs) {
    if (o.kind === "event" ? !all : !created) continue;
    try {
      const started = performance.now();
      const pa = await publishWithRetry(
        pub,
        eventsSubject(o.channel),
        encodeEnvelope(o.envelope),
        { msgID: o.msgID, headers: h },
        { signal, onRetry: keepAlive },
      );
      if (live) metrics.publishAck.observe((performance.now() - started) / 1000);
      (pa.duplicate ? metrics.duplicates : metrics.published).inc();
    } catch (err) {
      if (isRetryable(err) || signal.aborted) throw err;
      problems.push(`publish of ${o.msgID} rejected: ${errorMessage(err)}`);
    }
  }
  if (problems.length === 0 || !all) return;
  log.error("processing rules failed for an event; a copy goes to DLQ", {
    id: env.id,
    seq,
    errors: problems,
  });
  await deadLetter(
    d.js,
    "route",
    env.channel,
    m,
    `processing rules: ${problems.join("; ")}`,
    m.info.deliveryCount,
    signal,
    false,
  );
  metrics.deadLettered.inc();
}

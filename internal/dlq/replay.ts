import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import {
  decodeEnvelope,
  DLQ_PREFIX,
  DLQ_SEQ_HEADER,
  DLQ_STREAM,
  EVENTS_STREAM,
  ingestSubject,
} from "../../subjects/mod.ts";
import { publishWithRetry, requirePartitions, streamEpoch } from "../bus/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Store } from "../store/mod.ts";

export interface ReplayOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  store: Store;
  log: Logger;
  /** Only events parked by this service ("route" or "persist"). */
  service?: string;
  /** Report what would be replayed; change nothing. */
  dryRun?: boolean;
}

export interface ReplayResult {
  replayed: number;
  failed: number;
}

/**
 * Re-injects parked events once their cause is fixed, and removes each from
 * DLQ after it landed, so DLQ ends holding only what still fails.
 * - parked by route: published to INGEST again, under a msgID derived from its
 *   DLQ position (a crashed replay re-run is dropped as a duplicate, and route
 *   drops an event id it already routed);
 * - parked by persist: inserted into PostgreSQL at its original EVENTS cursor,
 *   ON CONFLICT DO NOTHING (it was delivered to subscribers already; only the
 *   row was missing).
 */
export async function replayDlq(o: ReplayOptions): Promise<ReplayResult> {
  const si = await o.jsm.streams.info(DLQ_STREAM);
  const last = si.state.last_seq;
  const result: ReplayResult = { replayed: 0, failed: 0 };
  if (si.state.messages === 0) return result;
  const consumer = await o.js.consumers.get(DLQ_STREAM, {
    filter_subjects: o.service ? `${DLQ_PREFIX}.${o.service}.>` : `${DLQ_PREFIX}.>`,
    deliver_policy: DeliverPolicy.All,
  });
  const epoch = await streamEpoch(o.jsm, EVENTS_STREAM);
  // Re-injected events go to their channel's partition, as ingest would publish them.
  const partitions = await requirePartitions(o.jsm, "replay-dlq");
  for (;;) {
    const m = await consumer.next({ expires: 2000 });
    if (m === null) break;
    try {
      await replayOne(o, m, epoch, partitions);
      result.replayed++;
    } catch (err) {
      result.failed++;
      o.log.warn("event still fails, left in DLQ", {
        err,
        dlq_seq: m.info.streamSequence,
        subject: m.subject,
      });
    }
    if (m.info.streamSequence >= last) break;
  }
  return result;
}

async function replayOne(
  o: ReplayOptions,
  m: JsMsg,
  epoch: number,
  partitions: number,
): Promise<void> {
  const [, service, ...rest] = m.subject.split(".");
  const channel = rest.join(".");
  const env = decodeEnvelope(m.data);
  o.log.info(o.dryRun ? "would replay" : "replaying", {
    id: env.id,
    service,
    channel,
    reason: m.headers?.get("Jetmesh-Dlq-Reason"),
  });
  if (o.dryRun) return;
  if (service === "persist") {
    const seq = Number(m.headers?.get(DLQ_SEQ_HEADER));
    if (!Number.isInteger(seq) || seq < 1) {
      throw new Error(`DLQ message ${m.info.streamSequence} has no source sequence`);
    }
    await o.store.insertEvents([{
      eventId: env.id,
      channel: env.channel,
      cursor: { epoch, seq },
      receivedAt: env.ts,
      publisher: env.publisher,
      data: env.data,
    }]);
  } else {
    await publishWithRetry(o.js, ingestSubject(env.channel, partitions), m.data, {
      msgID: `replay:${DLQ_STREAM}:${m.info.streamSequence}`,
    }, {
      deadlineMs: 10_000,
    });
  }
  await o.jsm.streams.deleteMessage(DLQ_STREAM, m.info.streamSequence);
}

/**
 * Re-reads one INGEST partition after a processing checkpoint (docs/processing.md
 * "How route runs it", step 3). The durable only delivers what is not acked; the
 * engines must also see the acked messages after their checkpoint, or a window
 * would lose the readings acked before a crash. So those are read again, from
 * the checkpoint's position up to the last sequence the durable delivered, one
 * stream message get (`next_by_subj`) at a time: it needs no consumer (route's
 * NATS user may not create an unnamed one, nor delete one), and the range is
 * bounded by the checkpoint cadence (10 000 events or 10 s by default).
 */
import type { JetStreamManager, JsMsg, MsgRequest, StoredMsg } from "@nats-io/jetstream";
import { INGEST_STREAM, partitionFilter } from "../../subjects/mod.ts";

/** What the replay hands over: a stored message with what a JsMsg would say of it. */
export interface ReplayedMsg {
  subject: string;
  data: Uint8Array;
  headers: StoredMsg["header"];
  seq: number;
}

/**
 * Hands `handle` every message of `partition` from sequence `from` through `upTo`, in stream
 * order, one after another; returns how many.
 */
export async function replayPartition(
  jsm: JetStreamManager,
  partition: number,
  from: number,
  upTo: number,
  handle: (m: ReplayedMsg) => Promise<void>,
): Promise<number> {
  const filter = partitionFilter(partition);
  let n = 0;
  for (let seq = from; seq <= upTo;) {
    // nats-server takes next_by_subj on STREAM.MSG.GET; nats.js types it for direct gets only.
    const query = { seq, next_by_subj: filter } as unknown as MsgRequest;
    const sm = await jsm.streams.getMessage(INGEST_STREAM, query);
    if (sm === null || sm.seq > upTo) break;
    await handle({ subject: sm.subject, data: sm.data, headers: sm.header, seq: sm.seq });
    n++;
    seq = sm.seq + 1;
  }
  return n;
}

/** A replayed message as the relay's code reads a JsMsg (no ack: nothing to ack it to). */
export function asJsMsg(m: ReplayedMsg): JsMsg {
  return {
    subject: m.subject,
    data: m.data,
    headers: m.headers,
    info: { stream: INGEST_STREAM, streamSequence: m.seq, deliveryCount: 1 },
    working: () => {},
  } as unknown as JsMsg;
}

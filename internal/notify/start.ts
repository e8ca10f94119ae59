import type { JetStreamManager } from "@nats-io/jetstream";
import { type Cursor, EVENTS_STREAM, epochOf } from "../../subjects/mod.ts";
import { JetmeshError } from "../errors/mod.ts";

/** Where a subscription starts: it delivers stream sequences from `fromSeq` on, and reports `after` as its cursor. */
export interface StartPoint {
  epoch: number;
  fromSeq: number;
  after: Cursor;
}

/**
 * Resolves a client's `after` against the current EVENTS stream.
 * - no cursor: start after the stream's last message (live only);
 * - same epoch: start right after the cursor's sequence;
 * - older epoch: the stream was recreated since, so everything in it is newer
 *   than the cursor: start at sequence 1.
 * A cursor from a later epoch than the stream's is refused.
 */
export async function resolveStart(jsm: JetStreamManager, after: Cursor | undefined): Promise<StartPoint> {
  const si = await jsm.streams.info(EVENTS_STREAM);
  const epoch = epochOf(si.created);
  if (after === undefined) {
    const last = si.state.last_seq;
    return { epoch, fromSeq: last + 1, after: { epoch, seq: last } };
  }
  if (after.epoch === epoch) return { epoch, fromSeq: after.seq + 1, after };
  if (after.epoch < epoch) return { epoch, fromSeq: 1, after };
  throw new JetmeshError("bad_frame", "cursor is ahead of the event stream; it does not come from this deployment");
}

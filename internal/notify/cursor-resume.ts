import type { JetStreamManager } from "@nats-io/jetstream";
import { compareCursors, type Cursor, epochOf, EVENTS_STREAM } from "../../subjects/mod.ts";
import { JetmeshError } from "../errors/mod.ts";

/** Where a subscription starts, and what the stream looked like when it did. */
export interface StartPoint {
  /** Epoch of the current EVENTS stream. */
  epoch: number;
  /** First stream sequence read from JetStream. */
  fromSeq: number;
  /** The cursor the subscription starts after, as reported to the client. */
  after: Cursor;
  /**
   * Events after `after` and before `fromSeq` have left the stream: read them from PostgreSQL
   * first.
   */
  fromStore: boolean;
  /**
   * The client gave a cursor, so events it expects may expire between this check and the
   * consumer's first read.
   */
  resumed: boolean;
  /** EVENTS max age in ms; 0 when unlimited. */
  maxAgeMs: number;
}

/**
 * What the hub tells about EVENTS: enough to start a live-only subscription without asking the
 * server.
 */
export interface HubPosition {
  epoch: number;
  maxAgeMs: number;
  /** The last stream sequence the hub has offered. */
  position: number;
}

/**
 * Resolves a client's `after` against the current EVENTS stream.
 * - no cursor: start after the last event the hub has offered (live only,
 *   straight from the hub);
 * - a cursor the stream still holds the next event of: JetStream from there;
 * - an older cursor (events expired or purged since, or the stream was
 *   recreated): PostgreSQL from the cursor up to the stream's first
 *   sequence, then JetStream from that sequence.
 * A cursor from a later epoch than the stream's is refused.
 */
export async function resolveStart(
  jsm: JetStreamManager,
  hub: HubPosition,
  after: Cursor | undefined,
): Promise<StartPoint> {
  if (after === undefined) {
    const { epoch, maxAgeMs, position } = hub;
    return {
      epoch,
      fromSeq: position + 1,
      after: { epoch, seq: position },
      fromStore: false,
      resumed: false,
      maxAgeMs,
    };
  }
  const si = await jsm.streams.info(EVENTS_STREAM);
  const epoch = epochOf(si.created);
  const maxAgeMs = Math.round(si.config.max_age / 1e6);
  // An empty new stream reports first_seq 0; a purged one last_seq + 1.
  const first = Math.max(1, si.state.first_seq);
  if (after.epoch > epoch) {
    throw new JetmeshError(
      "bad_frame",
      "cursor is ahead of the event stream; it does not come from this deployment",
    );
  }
  if (compareCursors(after, { epoch, seq: first - 1 }) < 0) {
    return { epoch, fromSeq: first, after, fromStore: true, resumed: true, maxAgeMs };
  }
  return { epoch, fromSeq: after.seq + 1, after, fromStore: false, resumed: true, maxAgeMs };
}

/** The EVENTS stream's first sequence now: everything below it has expired or been purged. */
export async function firstSequence(jsm: JetStreamManager): Promise<number> {
  const si = await jsm.streams.info(EVENTS_STREAM);
  return Math.max(1, si.state.first_seq);
}

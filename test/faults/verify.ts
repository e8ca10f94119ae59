import type postgres from "postgres";
import type { Load } from "./driver.ts";

export interface StoredEvent {
  eventId: string;
  channel: string;
  cursor: string;
}

/** Every stored event, in cursor order, read straight from the table persist writes. */
export async function storedEvents(sql: postgres.Sql, schema: string): Promise<StoredEvent[]> {
  // Sorted on the bigint columns, not on the text the cursor is built from.
  const rows = await sql<Array<{ event_id: string; channel: string; cursor: string }>>`
    select event_id, channel, epoch::text || '-' || seq::text as cursor from ${
    sql(`${schema}.events`)
  } order by epoch, seq`;
  return rows.map((r) => ({ eventId: r.event_id, channel: r.channel, cursor: r.cursor }));
}

export interface Verdict {
  published: number;
  acked: number;
  stored: number;
  /** Events subscribers processed, over all subscribers. */
  delivered: number;
  /** What they should have processed: each subscriber, every stored event of its channels. */
  expectedDeliveries: number;
  /** Acked events missing from PostgreSQL. */
  lost: string[];
  /** Stored events no publisher sent. */
  strays: string[];
  /** Publisher × channel pairs stored in another order than sent. */
  storeOrder: string[];
  /**
   * Events processed twice. The subscribers drop an event at or before a cursor they have seen
   * (as the SDK does), so this counts only repeats under a new cursor.
   */
  duplicates: number;
  /**
   * Events notify sent at or before a cursor it had already sent the subscription: the repeats
   * the subscribers dropped. Notify's resume promises none.
   */
  resentAtCursor: number;
  gaps: number;
  /**
   * Subscriber × channel pairs that saw their events in another order than stored, or with
   * other cursors.
   */
  deliveryOrder: string[];
}

/**
 * Compares what publishers had acked, what PostgreSQL holds and what every
 * subscriber processed. The stored per-channel order (by cursor) is the
 * reference: restricted to one publisher it must be that publisher's send
 * order, and each subscriber must have seen exactly it, with the same cursors.
 */
export function verify(load: Load, stored: StoredEvent[]): Verdict {
  const v: Verdict = {
    published: load.published,
    acked: load.acked,
    stored: stored.length,
    delivered: 0,
    expectedDeliveries: 0,
    lost: [],
    strays: [],
    storeOrder: [],
    duplicates: 0,
    resentAtCursor: 0,
    gaps: 0,
    deliveryOrder: [],
  };
  const storedIds = new Set(stored.map((e) => e.eventId));
  const sentIds = new Set<string>();
  for (const p of load.publishers) {
    for (const [, ids] of p.sent()) {
      for (const id of ids) {
        sentIds.add(`${p.name}:${id}`);
        if (p.acked.has(id) && !storedIds.has(`${p.name}:${id}`)) v.lost.push(`${p.name}:${id}`);
      }
    }
  }
  v.strays = [...storedIds].filter((id) => !sentIds.has(id));

  const byChannel = new Map<string, StoredEvent[]>(load.channels.map((c) => [c, []]));
  for (const e of stored) byChannel.get(e.channel)?.push(e);

  for (const p of load.publishers) {
    for (const [channel, ids] of p.sent()) {
      const prefix = `${p.name}:`;
      const got = byChannel.get(channel)!.filter((e) => e.eventId.startsWith(prefix)).map((e) =>
        e.eventId.slice(prefix.length)
      );
      const firstDiff = ids.findIndex((id, i) => got[i] !== id);
      if (firstDiff >= 0 || got.length !== ids.length) {
        v.storeOrder.push(
          `${p.name} on ${channel}: sent ${ids.length}, stored ${got.length}, first difference at ${firstDiff} (sent ${
            ids[firstDiff]
          }, stored ${got[firstDiff]})`,
        );
      }
    }
  }

  for (const s of load.subscribers) {
    v.resentAtCursor += s.stats.droppedAtCursor;
    for (const channel of load.channelsOf(s)) {
      const expected = byChannel.get(channel)!;
      const got = s.delivered.get(channel) ?? [];
      v.delivered += got.length;
      v.expectedDeliveries += expected.length;
      const gotIds = new Set(got.map((d) => d.id));
      v.duplicates += got.length - gotIds.size;
      v.gaps += expected.filter((e) => !gotIds.has(e.eventId)).length;
      const firstDiff = expected.findIndex((e, i) =>
        got[i]?.id !== e.eventId || got[i]?.cursor !== e.cursor
      );
      if (firstDiff >= 0 || got.length !== expected.length) {
        const at = firstDiff >= 0 ? firstDiff : expected.length;
        v.deliveryOrder.push(
          `${s.name} on ${channel}: expected ${expected.length}, got ${got.length}; first difference at ${at}: ` +
            `stored ${JSON.stringify(expected[at])}, delivered ${JSON.stringify(got[at])}`,
        );
      }
    }
  }
  return v;
}

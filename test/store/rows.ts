import type { EventRow } from "../../internal/store/mod.ts";

/** An event whose id is derived from its position, so replays collide as they do in production. */
export function eventRow(channel: string, epoch: number, seq: number): EventRow {
  return {
    eventId: `${channel}-${epoch}-${seq}`,
    channel,
    cursor: { epoch, seq },
    receivedAt: 1_764_165_000_000 + seq,
    publisher: "test",
    data: { seq },
  };
}

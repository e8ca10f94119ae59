/**
 * A cursor names a position in the EVENTS stream that survives the stream being
 * deleted and created again. It is `<epoch>-<seq>`: the epoch is the stream's
 * creation time in milliseconds, the seq its stream sequence. A recreated stream
 * restarts at seq 1 with a later epoch, so (epoch, seq) stays totally ordered and
 * a cursor from the old stream never skips events of the new one.
 */
export interface Cursor {
  epoch: number;
  seq: number;
}

export function formatCursor(c: Cursor): string {
  return `${c.epoch}-${c.seq}`;
}

const cursorRe = /^(\d{1,15})-(\d{1,15})$/;

export function parseCursor(text: unknown): Cursor | undefined {
  if (typeof text !== "string") return undefined;
  const m = cursorRe.exec(text);
  if (!m) return undefined;
  return { epoch: Number(m[1]), seq: Number(m[2]) };
}

export function compareCursors(a: Cursor, b: Cursor): number {
  return a.epoch !== b.epoch ? a.epoch - b.epoch : a.seq - b.seq;
}

/** Epoch of a stream from its `created` timestamp (RFC 3339, as the server reports it). */
export function epochOf(created: string): number {
  const ms = Date.parse(created);
  if (Number.isNaN(ms)) {
    throw new Error(`stream created time ${JSON.stringify(created)} is not a timestamp`);
  }
  return ms;
}

import type { Cursor } from "../../subjects/mod.ts";

/** One stored event: a row of `<schema>.events`. */
export interface EventRow {
  eventId: string;
  channel: string;
  cursor: Cursor;
  /** Server receive time at ingest, ms since the Unix epoch. */
  receivedAt: number;
  publisher: string;
  data: unknown;
}

export interface Store {
  /**
   * Creates the schema and applies every migration not yet applied; safe to run concurrently
   * and repeatedly.
   */
  migrate(): Promise<void>;
  /**
   * Writes a batch in one statement; rows whose event id exists are skipped. Returns how many
   * were new.
   */
  insertEvents(rows: EventRow[]): Promise<number>;
  /** Events of one channel after `after` (exclusive), in cursor order, at most `limit`. */
  history(channel: string, after: Cursor | undefined, limit: number): Promise<EventRow[]>;
  /**
   * Events of every channel `pattern` matches (a channel, or `*` / `>` as in
   * subscriptions) with `after` < cursor < `before`, in cursor order, at most `limit`.
   */
  replay(pattern: string, after: Cursor, before: Cursor, limit: number): Promise<EventRow[]>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

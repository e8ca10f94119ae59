/** What every phase gets: options, the nats-server, the database, the services once started. */
import type postgres from "postgres";
import type { TestDatabase } from "../../devkit/test-db.ts";
import type { BenchOptions } from "../options.ts";
import { progress } from "../progress.ts";
import type { BenchNats, BenchStack } from "../stack.ts";

export interface Ctx {
  opts: BenchOptions;
  nats: BenchNats;
  db: TestDatabase;
  sql: postgres.Sql;
  stack: BenchStack;
  /** A short tag unique in this run, for event ids and channel names. */
  tag(prefix: string): string;
}

/** Waits `ms`, redrawing the progress line about every second with what `status` says. */
export async function waitShowing(
  ms: number,
  status: () => Promise<string> | string,
): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    const left = end - performance.now();
    if (left <= 0) return;
    await new Promise((r) => setTimeout(r, Math.min(1000, left)));
    progress(await status());
  }
}

export async function committedRows(ctx: Ctx): Promise<number> {
  const [{ n }] = await ctx.sql`select count(*)::int as n from ${ctx.sql(ctx.db.schema)}.events`;
  return n as number;
}

export const sec = (ms: number) => `${(ms / 1000).toFixed(0)}s`;

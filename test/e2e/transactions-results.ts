/**
 * The transactions example (examples/transactions) end to end: its generator's input with the
 * reference output, a subscriber on what route derives from it, and the exact comparison of the
 * two. The e2e test and the examples' browser test share it.
 */
import type { Test } from "tap";
import type { Frame, TestClient } from "../../devkit/test-client.ts";
import { plan, subOf } from "../../examples/load/cli.ts";
import { transactions } from "../../examples/transactions/load.ts";
import { byChannel, collect, paced, subscriber } from "./example-results.ts";

/** What route publishes on cards.minute.<account>, but p95 (which the reference leaves out). */
export interface MinuteResult {
  channel: string;
  data: { account: string; windowStart: number; windowEnd: number; count: number; amount: number };
}

/** What examples/transactions/load.ts `expected` gives (the file `--expected` writes). */
export interface TxExpected {
  windows: MinuteResult[];
  mayBeOpen: MinuteResult[];
  finalAlerts: Array<
    { alert: string; key: string; windowStart: number; state: string; value: number }
  >;
  flagged: string[];
  rejected: string[];
  late: string[];
}

/**
 * The generator's input (50 accounts, 4 minutes of transactions) sent over `spreadMs` in the
 * planned order. Four minutes: late transactions go back further than a window and its
 * correction time (lateBehind), so only a run that long has some; 8 a second over 50 accounts
 * puts about 10 in a window, around the too-many alert's threshold, so it fires and clears.
 */
export function transactionsInput(token: string, spreadMs: number) {
  // Event times all in the past: nothing is ahead of ingest's clock.
  const start = Math.floor((Date.now() - 270_000) / 10_000) * 10_000;
  const { planned, events, opts } = plan(transactions, {
    seed: 15,
    start,
    durationSec: 240,
    rate: 8,
    keys: 50,
  });
  const expected = transactions.expected(planned, opts, subOf(token)) as unknown as TxExpected;
  // Valid transactions are routed on cards.tx.*; the rejected ones are diverted instead.
  const valid = new Set(planned.map((p) => p.id)).size - expected.rejected.length;
  return { events: paced(events, spreadMs), expected, valid };
}

/** Subscribes to everything on cards.> (a grant: the transactions themselves are not open). */
export async function transactionsSubscriber(
  t: Test,
  url: string,
  mint: (sub: string, o: { subscribe: string[] }) => Promise<string>,
): Promise<TestClient> {
  return subscriber(t, url, ["cards.>"], await mint("fraud-desk", { subscribe: ["cards.>"] }));
}

const windowOf = (f: Frame | { channel: unknown; data: unknown }) =>
  `${f.channel}@${String((f.data as { windowStart: number }).windowStart).padStart(15)}`;

/** A result as the reference shapes it: without p95, and without the revision of a correction. */
function shape(f: Frame): MinuteResult {
  const { account, windowStart, windowEnd, count, amount } = f.data as MinuteResult["data"];
  return { channel: String(f.channel), data: { account, windowStart, windowEnd, count, amount } };
}

const ids = (frames: Frame[], id: (f: Frame) => unknown) => frames.map((f) => String(id(f))).sort();

/** Waits until every expected result is in (or the time is up), then compares exactly. */
export async function compareTransactions(
  t: Test,
  sub: TestClient,
  exp: TxExpected,
  valid: number,
  waitMs = 30_000,
): Promise<void> {
  const closed = new Set(exp.windows.map(windowOf));
  const done = (ev: Frame[]) =>
    byChannel(ev, "cards.minute.").filter((f) => closed.has(windowOf(f))).length >=
      exp.windows.length &&
    byChannel(ev, "cards.flagged.").length >= exp.flagged.length &&
    byChannel(ev, "cards.rejected.").length >= exp.rejected.length &&
    byChannel(ev, "cards.late.").length >= exp.late.length &&
    byChannel(ev, "cards.tx.").length >= valid;
  const { events: ev } = await collect(t, sub, done, waitMs);

  const windows = byChannel(ev, "cards.minute.");
  // Every result, not the last revision of each: the input has no correction to make.
  const gotClosed = windows.filter((f) => closed.has(windowOf(f))).map(shape)
    .sort((a, b) => (windowOf(a) < windowOf(b) ? -1 : 1));
  const want = [...exp.windows].sort((a, b) => (windowOf(a) < windowOf(b) ? -1 : 1));
  t.equal(gotClosed.length, want.length, `${want.length} closed windows, each once`);
  t.same(gotClosed, want, "every closed window equals the reference");
  const p95Outside = windows.map((f) => f.data as { p95: unknown; amount: number })
    .filter((d) => typeof d.p95 !== "number" || d.p95 <= 0 || d.p95 > d.amount);
  t.same(p95Outside, [], "every p95 is positive and at most the window's amount");
  const open = new Map(exp.mayBeOpen.map((w) => [windowOf(w), w]));
  const others = windows.filter((f) => !closed.has(windowOf(f)));
  t.same(
    others.map(shape).filter((w) => JSON.stringify(open.get(windowOf(w))) !== JSON.stringify(w)),
    [],
    `the ${others.length} last windows closed so far equal the reference too`,
  );

  type AlertData = { alert: string; key: string; state: string; value: number };
  const alerts = byChannel(ev, "cards.alerts.").map((f) => {
    const { alert, key, state, value, source } = f.data as AlertData & {
      source: { windowStart: number };
    };
    return { channel: f.channel, alert, key, windowStart: source.windowStart, state, value };
  });
  t.same(
    alerts.filter((a) => a.channel !== `cards.alerts.${a.key}`),
    [],
    "each alert on its account's channel",
  );
  const order = (a: { key: string; alert: string; windowStart: number }, b: typeof a) =>
    a.key < b.key
      ? -1
      : a.key > b.key
      ? 1
      : a.alert < b.alert
      ? -1
      : a.alert > b.alert
      ? 1
      : a.windowStart - b.windowStart;
  t.same(
    alerts.filter((a) => closed.has(windowOf({ channel: `cards.minute.${a.key}`, data: a })))
      .map(({ channel: _, ...a }) => a).sort(order),
    [...exp.finalAlerts].sort(order),
    `${exp.finalAlerts.length} alerts`,
  );
  t.same(
    ids(byChannel(ev, "cards.flagged."), (f) => (f.data as { tx: string }).tx),
    exp.flagged,
    `${exp.flagged.length} flagged on cards.flagged.*`,
  );
  t.same(
    ids(byChannel(ev, "cards.rejected."), (f) => String(f.id).replace(/^cards-tx\/valid:/, "")),
    exp.rejected,
    `${exp.rejected.length} rejected on cards.rejected.*`,
  );
  t.same(
    ids(byChannel(ev, "cards.late."), (f) => (f.data as { event: { id: string } }).event.id),
    exp.late,
    `${exp.late.length} late transactions on cards.late.*`,
  );
  t.equal(byChannel(ev, "cards.tx.").length, valid, "every valid transaction routed once");
  const states = new Set(exp.finalAlerts.map((a) => `${a.alert} ${a.state}`));
  t.ok(
    states.size === 4 && exp.late.length > 0 && exp.rejected.length > 0 && exp.flagged.length > 0,
    "the input has both alerts firing and clearing, late, rejected and flagged transactions",
  );
}

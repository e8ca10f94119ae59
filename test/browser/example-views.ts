/**
 * What the examples' pages (examples/iot/page, examples/transactions/page) should show, from
 * the generators' references. A page shows each key's latest window; which one that is depends
 * on how far route has got, so the view expected is built for the windows the page shows: their
 * aggregates from the reference, and the alert states after the key's reference windows up to
 * them (route closes a key's windows in order, and its alerts follow them).
 */
import { expectAlerts, type ExpectedWindow } from "../../examples/load/expect.ts";
import { num, time } from "../../examples/page/live.ts";
import type { Expected } from "../e2e/iot-results.ts";
import type { TxExpected } from "../e2e/transactions-results.ts";

/** A page's table rows (cells' text), active alerts list, and one counter. */
export interface PageView {
  rows: string[][];
  alerts: string[];
  /** Late readings (IoT), flagged transactions (transactions). */
  counter: string;
}

type Shaped = { data: Record<string, unknown> };

/** A shaped reference window as expectAlerts takes it. */
function asWindow(key: string, w: Shaped): ExpectedWindow {
  const d = w.data as Record<string, number>;
  const { windowStart, windowEnd, count, avg, min, max, amount } = d;
  return { key, windowStart, windowEnd, count, sum: amount, avg, min, max };
}

/** The key's reference windows in time order, up to the one shown as `span`; none if no such. */
function upTo(windows: Shaped[], keyAs: string, key: string, span: string): ExpectedWindow[] {
  const mine = windows.filter((w) => w.data[keyAs] === key).map((w) => asWindow(key, w))
    .sort((a, b) => a.windowStart - b.windowStart);
  const i = mine.findIndex((w) => `${time(w.windowStart)}–${time(w.windowEnd)}` === span);
  return mine.slice(0, i + 1);
}

type Reference = { windows: Shaped[]; mayBeOpen: Shaped[] };

/** Each row shown as the reference has it, from the key's windows up to the one shown (`w`). */
function rowsFor(
  exp: Reference,
  keyAs: string,
  shown: PageView,
  row: (cells: string[], upToShown: ExpectedWindow[], w: ExpectedWindow) => string[],
): string[][] {
  const all = [...exp.windows, ...exp.mayBeOpen];
  return shown.rows.map((cells) => {
    const ws = upTo(all, keyAs, cells[0], cells[1]);
    const w = ws.at(-1);
    return w === undefined
      ? [cells[0], `${cells[1]}: no such window in the reference`]
      : row(cells, ws, w);
  });
}

export function iotView(exp: Expected, shown: PageView): PageView {
  const rows = rowsFor(exp, "device", shown, (row, ws, w) => {
    const alert = expectAlerts(ws, (x) => x.avg, 80, 75).at(-1);
    return [
      row[0],
      row[1],
      String(w.count),
      num(w.avg),
      num(w.min),
      num(w.max),
      alert ? `${alert.state} (${num(alert.value)})` : "",
    ];
  });
  return {
    rows,
    alerts: rows.filter((r) => r[6]?.startsWith("firing")).map((r) => r[0]),
    counter: String(exp.late.length),
  };
}

const TX_ALERTS = [
  { name: "too-many", value: (x: ExpectedWindow) => x.count, above: 10, clearBelow: 5 },
  { name: "too-much", value: (x: ExpectedWindow) => x.sum, above: 5000, clearBelow: 2000 },
];

export function transactionsView(exp: TxExpected, shown: PageView): PageView {
  const rows = rowsFor(exp, "account", shown, (row, ws, w) => {
    const firing = TX_ALERTS.filter((a) =>
      expectAlerts(ws, a.value, a.above, a.clearBelow).at(-1)?.state === "firing"
    ).map((a) => a.name);
    // The reference has no p95 (a t-digest's estimate): the page's must be a number.
    const p95 = /^\d+\.\d\d$/.test(row[4]) ? row[4] : `not a number: ${row[4]}`;
    return [row[0], row[1], String(w.count), num(w.sum, 2), p95, firing.join(" ")];
  });
  return {
    rows,
    alerts: rows.flatMap((r) => r[5] ? r[5].split(" ").map((a) => `${r[0]} ${a}`) : []),
    counter: String(exp.flagged.length),
  };
}

/** The number of keys in a reference: the rows a page shows once every key has a window. */
export function keysOf(exp: Reference, keyAs: string): number {
  return new Set([...exp.windows, ...exp.mayBeOpen].map((w) => w.data[keyAs])).size;
}

/**
 * Card transactions load (issue 15): accounts publishing on cards.tx.<account> as
 * `{"ts", "amount", "country", "homeCountry"}`, with out-of-order, duplicated and
 * late transactions (examples/load/schedule.ts), a few malformed ones (amount 0,
 * diverted to cards.rejected), some large or abroad (flagged), and every 25th
 * account spending enough to trip the per-minute amount alert.
 * `make example-load EXAMPLE=transactions`.
 */
import { pathToFileURL } from "node:url";
import { expectAlerts, expectWindows } from "../load/expect.ts";
import { type Example, main } from "../load/cli.ts";
import type { Planned } from "../load/schedule.ts";

const SIZE = 60_000;
const HOP = 10_000;
const LATENESS = 10_000;
const RETAIN = 60_000;
const COUNTRIES = ["FR", "DE", "NL", "IT", "ES"];

function accountNo(p: Planned): number {
  return Number(p.key.slice(p.key.lastIndexOf("-") + 1));
}

export function transaction(p: Planned) {
  const n = accountNo(p);
  const home = COUNTRIES[n % COUNTRIES.length];
  const big = n % 25 === 0;
  // Amounts in cents precision; 0 is malformed (the `valid` filter diverts it).
  const amount = p.u[0] < 0.005 ? 0 : Math.round(
    (big ? 500 + p.u[0] * 2000 : p.u[0] < 0.02 ? 1000 + p.u[1] * 2000 : 5 + p.u[1] * 200) * 100,
  ) /
    100;
  const country = p.u[2] < 0.03 ? COUNTRIES[(n + 1) % COUNTRIES.length] : home;
  return { ts: p.t, amount, country, homeCountry: home };
}

const flaggedBy = (x: ReturnType<typeof transaction>) =>
  x.amount >= 1000 || x.country !== x.homeCountry;

export const transactions: Example = {
  name: "transactions",
  prefix: "acct",
  lateness: LATENESS,
  // Behind every window and its correction time: late for good.
  lateBehind: SIZE + RETAIN + 30_000,
  defaults: { keys: 1000, rate: 100, durationSec: 300 },
  wire: (p) => ({ channel: `cards.tx.${p.key}`, data: transaction(p) }),
  expected(planned, _o, publisher) {
    const valid = planned.filter((p) => transaction(p).amount > 0);
    const w = expectWindows(
      {
        type: "hopping",
        size: SIZE,
        hop: HOP,
        lateness: LATENESS,
        policy: "update",
        retain: RETAIN,
      },
      valid,
      publisher,
      (p) => transaction(p).amount,
    );
    const shape = (x: (typeof w.closed)[number]) => ({
      channel: `cards.minute.${x.key}`,
      data: {
        account: x.key,
        windowStart: x.windowStart,
        windowEnd: x.windowEnd,
        count: x.count,
        amount: x.sum,
      },
    });
    const ids = (ps: Planned[]) => [...new Set(ps.map((p) => `${publisher}:${p.id}`))].sort();
    return {
      // Final results: a window corrected by late transactions is compared by its last revision.
      windows: w.closed.map(shape),
      mayBeOpen: w.open.map(shape),
      // Corrections also feed alerts, so only the final values' crossings are given here.
      finalAlerts: [
        ...expectAlerts(w.closed, (x) => x.count, 10, 5).map((a) => ({ alert: "too-many", ...a })),
        ...expectAlerts(w.closed, (x) => x.sum, 5000, 2000).map((a) => ({
          alert: "too-much",
          ...a,
        })),
      ],
      flagged: ids(valid.filter((p) => flaggedBy(transaction(p)))),
      rejected: ids(planned.filter((p) => transaction(p).amount <= 0)),
      late: w.late,
    };
  },
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(transactions);
}

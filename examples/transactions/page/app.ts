/// <reference lib="dom" />
/**
 * The transactions example's live page: per account, the latest one-minute
 * window (`cards.minute.<account>`, corrections included), the alerts firing on
 * it (`cards.alerts.<account>`: too-many, too-much) and the flagged transactions
 * (`cards.flagged.<account>`). Connection settings: examples/page/live.ts.
 */
import { $, live, LiveTable, num, prepend, time } from "../../page/live.ts";

interface Row {
  account: string;
  windowStart?: number;
  windowEnd?: number;
  count?: number;
  amount?: number;
  p95?: number;
  revision?: number;
  /** Alert name -> value while it fires. */
  alerts: Record<string, number>;
}

const table = new LiveTable<Row>($<HTMLTableElement>("#table"), [
  { title: "account", cell: (r) => r.account },
  {
    title: "window",
    cell: (r) =>
      `${time(r.windowStart)}–${time(r.windowEnd)}${r.revision ? ` r${r.revision}` : ""}`,
  },
  { title: "count", cell: (r) => String(r.count ?? "") },
  { title: "amount", cell: (r) => num(r.amount, 2) },
  { title: "p95", cell: (r) => num(r.p95, 2) },
  {
    title: "alerts",
    cell: (r) => Object.keys(r.alerts).sort().join(" "),
    cls: (r) => Object.keys(r.alerts).length > 0 ? "firing" : undefined,
  },
]);
let windows = 0;
let flagged = 0;
const firing = new Set<string>();

function counters(): void {
  $("#accounts").textContent = String(table.rows.size);
  $("#windows").textContent = String(windows);
  $("#firing").textContent = String(firing.size);
  $("#flagged").textContent = String(flagged);
  $("#alerts").replaceChildren(
    ...[...firing].sort().map((k) => {
      const li = document.createElement("li");
      li.textContent = k;
      return li;
    }),
  );
}

const empty = (account: string): Row => ({ account, alerts: {} });

await live({
  "cards.minute.*": (e) => {
    const d = e.data as Omit<Row, "alerts">;
    if (typeof d?.account !== "string") return;
    windows++;
    table.update(d.account, (prev) => {
      const row = prev ?? empty(d.account);
      // A correction of an older window does not replace a newer one.
      if (row.windowStart !== undefined && (d.windowStart ?? 0) < row.windowStart) return row;
      return { ...row, ...d, alerts: row.alerts };
    });
    counters();
  },
  "cards.alerts.*": (e) => {
    const a = e.data as { alert?: string; key?: string; state?: string; value?: number };
    if (typeof a?.key !== "string" || typeof a.alert !== "string") return;
    const id = `${a.key} ${a.alert}`;
    if (a.state === "firing") firing.add(id);
    else firing.delete(id);
    table.update(a.key, (prev) => {
      const row = prev ?? empty(a.key!);
      const alerts = { ...row.alerts };
      if (a.state === "firing") alerts[a.alert!] = a.value ?? 0;
      else delete alerts[a.alert!];
      return { ...row, alerts };
    });
    counters();
  },
  "cards.flagged.*": (e) => {
    const f = e.data as { account?: string; amount?: number; reason?: string };
    flagged++;
    prepend(
      $("#flagged-list"),
      `${f?.account ?? e.channel} ${num(f?.amount, 2)} ${f?.reason ?? ""}`,
    );
    counters();
  },
});

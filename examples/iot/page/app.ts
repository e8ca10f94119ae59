/// <reference lib="dom" />
/**
 * The IoT example's live page: per device, the latest 10-second window route
 * published on `iot.avg10s.<device>`, whether its `hot` alert fires
 * (`alerts.iot.<device>`), and the late readings (`iot.late.<device>`).
 * Connection settings: examples/page/live.ts.
 */
import { $, live, LiveTable, num, prepend, time } from "../../page/live.ts";

interface Row {
  device: string;
  windowStart?: number;
  windowEnd?: number;
  count?: number;
  avg?: number;
  min?: number;
  max?: number;
  alert?: "firing" | "cleared";
  alertValue?: number;
  windows: number;
}

const table = new LiveTable<Row>($<HTMLTableElement>("#table"), [
  { title: "device", cell: (r) => r.device },
  { title: "window", cell: (r) => `${time(r.windowStart)}–${time(r.windowEnd)}` },
  { title: "count", cell: (r) => String(r.count ?? "") },
  { title: "avg", cell: (r) => num(r.avg) },
  { title: "min", cell: (r) => num(r.min) },
  { title: "max", cell: (r) => num(r.max) },
  {
    title: "alert",
    cell: (r) => r.alert ? `${r.alert} (${num(r.alertValue)})` : "",
    cls: (r) => r.alert,
  },
]);
let windows = 0;
let late = 0;
const firing = new Set<string>();

function counters(): void {
  $("#devices").textContent = String(table.rows.size);
  $("#windows").textContent = String(windows);
  $("#firing").textContent = String(firing.size);
  $("#late").textContent = String(late);
  $("#alerts").replaceChildren(
    ...[...firing].sort().map((d) => {
      const li = document.createElement("li");
      li.textContent = d;
      return li;
    }),
  );
}

const empty = (device: string): Row => ({ device, windows: 0 });

await live({
  "iot.avg10s.*": (e) => {
    const d = e.data as Omit<Row, "windows">;
    if (typeof d?.device !== "string") return;
    windows++;
    table.update(d.device, (prev) => ({
      ...(prev ?? empty(d.device)),
      windowStart: d.windowStart,
      windowEnd: d.windowEnd,
      count: d.count,
      avg: d.avg,
      min: d.min,
      max: d.max,
      windows: (prev?.windows ?? 0) + 1,
    }));
    counters();
  },
  "alerts.iot.*": (e) => {
    const a = e.data as { key?: string; state?: "firing" | "cleared"; value?: number };
    if (typeof a?.key !== "string") return;
    if (a.state === "firing") firing.add(a.key);
    else firing.delete(a.key);
    table.update(
      a.key,
      (prev) => ({ ...(prev ?? empty(a.key!)), alert: a.state, alertValue: a.value }),
    );
    counters();
  },
  "iot.late.*": (e) => {
    const l = e.data as { reason?: string; eventTime?: number; event?: { channel?: string } };
    late++;
    prepend(
      $("#late-list"),
      `${l?.event?.channel ?? e.channel} ${time(l?.eventTime)} ${l?.reason ?? ""}`,
    );
    counters();
  },
});

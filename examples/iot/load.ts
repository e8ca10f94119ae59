/**
 * IoT load (issue 15): 1,000 sensors publishing readings on iot.readings.<device>
 * as `{"ts": <epoch ms>, "temperature": <number>}`, with out-of-order, duplicated
 * and late readings (examples/load/schedule.ts). `make example-load EXAMPLE=iot`.
 * Every 20th device runs hot: its temperature swings around 80 so the `hot` alert
 * fires and clears; the others stay around 65.
 */
import { pathToFileURL } from "node:url";
import { expectAlerts, expectWindows } from "../load/expect.ts";
import { type Example, main } from "../load/cli.ts";
import type { Planned } from "../load/schedule.ts";

const SIZE = 10_000;
const LATENESS = 5_000;

export function temperature(p: Planned): number {
  const n = Number(p.key.slice(p.key.lastIndexOf("-") + 1));
  const hot = n % 20 === 0;
  const base = hot ? 78 + 12 * Math.sin((2 * Math.PI * p.t) / 120_000) : 65;
  return Math.round((base + (p.u[0] - 0.5) * 6) * 10) / 10;
}

export const iot: Example = {
  name: "iot",
  prefix: "dev",
  lateness: LATENESS,
  lateBehind: SIZE,
  defaults: { keys: 1000, rate: 200, durationSec: 60 },
  wire: (p) => ({
    channel: `iot.readings.${p.key}`,
    data: { ts: p.t, temperature: temperature(p) },
  }),
  expected(planned, _o, publisher) {
    const w = expectWindows(
      { type: "tumbling", size: SIZE, hop: SIZE, lateness: LATENESS, policy: "route", retain: 0 },
      planned,
      publisher,
      temperature,
    );
    const shape = (x: (typeof w.closed)[number]) => ({
      channel: `iot.avg10s.${x.key}`,
      data: {
        device: x.key,
        windowStart: x.windowStart,
        windowEnd: x.windowEnd,
        count: x.count,
        avg: x.avg,
        min: x.min,
        max: x.max,
      },
    });
    return {
      windows: w.closed.map(shape),
      mayBeOpen: w.open.map(shape),
      alerts: expectAlerts(w.closed, (x) => x.avg, 80, 75).map((a) => ({
        channel: `alerts.iot.${a.key}`,
        ...a,
      })),
      late: w.late,
    };
  },
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(iot);
}

/**
 * The IoT example (examples/iot) end to end: its generator's input with the reference output,
 * a subscriber on what route derives, and the exact comparison of the two. The e2e test and the
 * fault suite's processing mode share it.
 */
import { writeFileSync } from "node:fs";
import type { Test } from "tap";
import type { Frame, TestClient } from "../../devkit/test-client.ts";
import { plan, subOf } from "../../examples/load/cli.ts";
import { iot } from "../../examples/iot/load.ts";
import { byChannel, collect, paced, subscriber } from "./example-results.ts";

/**
 * The generator's input (50 devices, 90 s of readings) sent over `spreadMs` in the planned
 * order: a minute and a half of event time in a few seconds.
 */
export function iotInput(token: string, spreadMs: number) {
  // Event times all in the past (nothing is ahead of ingest's clock), from 15 s into a
  // 2-minute period: the hot devices' temperature (examples/iot/load.ts) peaks at 30 s, so
  // the closed windows see the `hot` alert fire and clear.
  const start = Math.floor((Date.now() - 200_000) / 120_000) * 120_000 + 15_000;
  const { planned, events, opts } = plan(iot, {
    seed: 15,
    start,
    durationSec: 90,
    rate: 30,
    keys: 50,
  });
  const expected = iot.expected(planned, opts, subOf(token)) as unknown as Expected;
  return { planned, events: paced(events, spreadMs), expected };
}

interface WindowResult {
  channel: string;
  data: { device: string; windowStart: number };
}

/** What examples/iot/load.ts `expected` gives (the file `--expected` writes). */
export interface Expected {
  windows: WindowResult[];
  mayBeOpen: WindowResult[];
  alerts: Array<{ channel: string; key: string; windowStart: number; state: string }>;
  late: string[];
}

/** Subscribes to what route derives, and to the readings themselves. */
export function iotSubscriber(t: Test, url: string): Promise<TestClient> {
  return subscriber(t, url, ["iot.>", "alerts.iot.>"]);
}

/** Waits until every expected result is in (or the time is up), then compares exactly. */
/** What one comparison saw, for the fault suite's figures. */
export interface IotFigures {
  windows: number;
  alerts: number;
  late: number;
  readings: number;
  duplicates: number;
}

export async function compareIot(
  t: Test,
  sub: TestClient,
  exp: Expected,
  readings: number,
  waitMs = 30_000,
): Promise<IotFigures> {
  const closed = new Set(exp.windows.map((w) => `${w.channel}@${w.data.windowStart}`));
  const done = (ev: Frame[]) => {
    const windows = byChannel(ev, "iot.avg10s.").filter((f) =>
      closed.has(`${f.channel}@${(f.data as { windowStart: number }).windowStart}`)
    );
    return windows.length >= exp.windows.length &&
      byChannel(ev, "iot.late.").length >= exp.late.length &&
      byChannel(ev, "iot.readings.").length >= readings;
  };
  const { events: ev, duplicates } = await collect(t, sub, done, waitMs);

  const windows = byChannel(ev, "iot.avg10s.");
  const windowOf = (f: Frame) => `${f.channel}@${(f.data as { windowStart: number }).windowStart}`;
  const gotClosed = windows.filter((f) => closed.has(windowOf(f)))
    .map((f) => ({ channel: f.channel, data: f.data }))
    .sort((a, b) => (windowKey(a) < windowKey(b) ? -1 : 1));
  const want = [...exp.windows].sort((a, b) => (windowKey(a) < windowKey(b) ? -1 : 1));
  t.equal(gotClosed.length, want.length, `${want.length} closed windows`);
  t.same(gotClosed, want, "every closed window equals the reference");
  const open = new Map(exp.mayBeOpen.map((w) => [`${w.channel}@${w.data.windowStart}`, w]));
  const others = windows.filter((f) => !closed.has(windowOf(f)));
  t.same(
    others.filter((f) => JSON.stringify(open.get(windowOf(f))?.data) !== JSON.stringify(f.data))
      .map((f) => f.data),
    [],
    `the ${others.length} last windows closed so far equal the reference too`,
  );

  const late = byChannel(ev, "iot.late.").map((f) =>
    String((f.data as { event: { id: string } }).event.id)
  ).sort();
  t.same(late, exp.late, `${exp.late.length} late readings on iot.late.*`);
  const unexpected = byChannel(ev, "iot.late.").filter((f) =>
    !exp.late.includes(String((f.data as { event: { id: string } }).event.id))
  );
  if (unexpected.length > 0) {
    writeFileSync(".tap/processing-late.json", JSON.stringify(unexpected.map((f) => f.data)));
  }

  type AlertData = { key: string; state: string; value: number; source: { windowStart: number } };
  const alerts = byChannel(ev, "alerts.iot.").map((f) => {
    const d = f.data as AlertData;
    return {
      channel: f.channel,
      key: d.key,
      windowStart: d.source.windowStart,
      state: d.state,
      value: d.value,
    };
  }).filter((a) => closed.has(`iot.avg10s.${a.key}@${a.windowStart}`));
  const order = (a: { key: string; windowStart: number }, b: typeof a) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : a.windowStart - b.windowStart;
  t.same(alerts.sort(order), [...exp.alerts].sort(order), `${exp.alerts.length} alerts`);
  t.ok(exp.alerts.length > 0 && exp.late.length > 0, "the input has alerts and late readings");
  t.equal(byChannel(ev, "iot.readings.").length, readings, "every reading routed once");
  return {
    windows: gotClosed.length,
    alerts: alerts.length,
    late: late.length,
    readings: byChannel(ev, "iot.readings.").length,
    duplicates,
  };
}

function windowKey(w: { channel: unknown; data: unknown }): string {
  return `${w.channel}@${String((w.data as { windowStart: number }).windowStart).padStart(15)}`;
}

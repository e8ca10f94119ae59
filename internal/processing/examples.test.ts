/**
 * The two example configs (examples/iot, examples/transactions) through the real
 * namespaces parser, then the engine over generated input, against the reference.
 */
import t from "tap";
import { fileURLToPath } from "node:url";
import { loadNamespaces } from "../namespaces/load.ts";
import { compileRules } from "./compile.ts";
import { Engine, type Input, type Output } from "./engine.ts";
import { generate, referenceAlerts, referenceWindows, sortedSum } from "./reference.ts";
import { run } from "./testing.ts";

function engineOf(file: string, namespace: string): Engine {
  const cfg = loadNamespaces(fileURLToPath(new URL(`../../examples/${file}`, import.meta.url)));
  const ns = cfg.namespaces.find((n) => n.name === namespace)!;
  const c = compileRules(ns.name, ns.rules);
  if (!c.ok) throw new Error(c.errors.join("\n"));
  return new Engine(c.rules);
}

const of = (kind: string, outputs: Output[]) => outputs.filter((o) => o.kind === kind);

t.test("IoT: 10 s averages per device, alerts above 80, late readings kept", async (t) => {
  const engine = engineOf("iot/namespaces.yaml", "iot-readings");
  // Temperatures drift through the 75..80 band so alerts fire and clear.
  const events = generate({
    seed: 7,
    keys: 4,
    events: 800,
    step: 300,
    lateness: 5000,
    span: 10_000,
    duplicates: 50,
    lates: 20,
    value: (r) => Math.round((60 + r() * 40) * 10) / 10,
  });
  const inputs: Input[] = events.map((e) => ({
    id: e.id,
    channel: `iot.readings.${e.key}`,
    data: { ts: e.t, temperature: e.value },
  }));
  const got = await run(engine, inputs);
  t.same(got.errors, []);
  const ref = referenceWindows(
    { type: "tumbling", size: 10_000, hop: 10_000, lateness: 5000, policy: "route", retain: 0 },
    events,
  );
  const expected = ref.windows.map((w) => ({
    id: `iot-readings/avg10s:${w.key}:${w.start}`,
    channel: `iot.avg10s.${w.key}`,
    data: {
      device: w.key,
      windowStart: w.start,
      windowEnd: w.end,
      count: w.values.length,
      avg: sortedSum(w.values) / w.values.length,
      min: Math.min(...w.values),
      max: Math.max(...w.values),
    },
  }));
  const windows = of("window", got.outputs).map(({ id, channel, data }) => ({ id, channel, data }));
  t.equal(JSON.stringify(windows), JSON.stringify(expected), `${expected.length} windows`);
  const late = of("late", got.outputs);
  t.same(
    new Set(late.map((o) => o.id)),
    new Set([...ref.late].map((id) => `iot-readings/avg10s:late:${id}`)),
  );
  t.ok(
    late.every((o) =>
      o.channel === `iot.late.${(o.data as { event: Input }).event.channel.split(".")[2]}`
    ),
  );
  t.ok(ref.late.size >= 10, "late readings in the input");
  const alerts = of("alert", got.outputs);
  t.ok(alerts.length >= 2, `alerts (${alerts.length})`);
  for (const device of ["k0", "k1", "k2", "k3"]) {
    const avgs = expected.filter((w) => w.data.device === device).map((w) => w.data.avg);
    const mine = alerts.filter((a) => a.channel === `alerts.iot.${device}`);
    t.same(
      mine.map((a) => (a.data as { state: string }).state),
      referenceAlerts(avgs, 80, 75),
      device,
    );
  }
});

t.test("transactions: rejected, flagged, per-minute windows every 10 s, alerts", async (t) => {
  const engine = engineOf("transactions/namespaces.yaml", "cards-tx");
  const events = generate({
    seed: 11,
    keys: 3,
    events: 600,
    step: 1500,
    lateness: 10_000,
    span: 90_000,
    duplicates: 40,
    lates: 20,
    value: (r) => Math.round((r() < 0.05 ? 1000 + r() * 4000 : r() * 600) * 100) / 100,
  });
  const inputs: Input[] = events.map((e, i) => ({
    id: e.id,
    channel: `cards.tx.${e.key}`,
    data: { ts: e.t, amount: e.value, country: i % 17 === 0 ? "FR" : "DE", homeCountry: "DE" },
  }));
  // Malformed ones, which the filter diverts before anything counts them.
  for (let i = 0; i < 10; i++) {
    inputs.splice(i * 50, 0, { id: `bad${i}`, channel: "cards.tx.k0", data: { amount: "x" } });
  }
  const got = await run(engine, inputs);
  t.same(got.errors, []);
  const rejected = of("diverted", got.outputs);
  t.equal(rejected.length, 10);
  t.ok(
    rejected.every((o) =>
      o.channel === "cards.rejected.k0" && o.id.startsWith("cards-tx/valid:bad")
    ),
  );
  const flagged = of("derived", got.outputs);
  const expectFlagged = inputs.filter((i) => {
    const d = i.data as { amount: unknown; country: string };
    return typeof d.amount === "number" && (d.amount >= 1000 || d.country !== "DE");
  });
  t.same(
    new Set(flagged.map((o) => o.id)),
    new Set(expectFlagged.map((i) => `cards-tx/flag:${i.id}`)),
  );
  t.match(flagged[0], { channel: /^cards\.flagged\.k\d$/, data: { reason: /^(large|abroad)$/ } });

  const ref = referenceWindows(
    {
      type: "hopping",
      size: 60_000,
      hop: 10_000,
      lateness: 10_000,
      policy: "update",
      retain: 60_000,
    },
    events,
  );
  const last = new Map<string, Record<string, number>>();
  for (const o of of("window", got.outputs)) {
    last.set(o.id.replace(/:r\d+$/, ""), o.data as Record<string, number>);
  }
  t.equal(last.size, ref.windows.length);
  let bad = 0;
  for (const w of ref.windows) {
    const a = last.get(`cards-tx/per-minute:${w.key}:${w.start}`);
    const ok = a && a.count === w.values.length && a.amount === sortedSum(w.values) &&
      // t-digest accuracy in rank: at most one value off plus 5 % of the window.
      Math.abs(w.values.filter((v) => v <= a.p95).length - 0.95 * w.values.length) <=
        1 + 0.05 * w.values.length;
    if (!ok && bad++ < 3) t.fail(`${w.key}:${w.start}: ${JSON.stringify(a)} vs ${w.values}`);
  }
  t.equal(bad, 0, "every window's final result equals the reference");
  t.ok(of("window", got.outputs).some((o) => /:r\d+$/.test(o.id)), "late corrections re-emitted");
  // Alerts follow the published results in order, with hysteresis.
  for (
    const [rule, field, above, clear] of [["too-many", "count", 10, 5], [
      "too-much",
      "amount",
      5000,
      2000,
    ]] as const
  ) {
    for (const key of ["k0", "k1", "k2"]) {
      const values = of("window", got.outputs).filter((o) =>
        (o.data as { account: string }).account === key
      )
        .map((o) => (o.data as Record<string, number>)[field]);
      const states = of("alert", got.outputs).filter((o) =>
        o.rule === rule && o.channel === `cards.alerts.${key}`
      )
        .map((o) => (o.data as { state: string }).state);
      t.same(states, referenceAlerts(values, above, clear), `${rule} ${key}`);
    }
  }
  t.ok(of("alert", got.outputs).length > 0, "alerts fired");
});

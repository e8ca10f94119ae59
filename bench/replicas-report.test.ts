import t from "tap";
import type { ReplicasResult } from "./phases/replicas.ts";
import type { SustainedResult } from "./phases/sustained.ts";
import { replicasNotes, replicasRows } from "./replicas-report.ts";

const window = { errors: 0, orderViolations: 0, drained: true, drainMs: 1800 } as SustainedResult;

const measured: ReplicasResult = {
  partitions: 16,
  one: window,
  two: window,
  cost: {
    one: { perSec: 1000, total: 300, byProcess: { route: 100, nats: 200 } },
    two: { perSec: 1500, total: 320, byProcess: { route: 50, "route-2": 70, nats: 200 } },
  },
  secondHeld: 8,
  balanceMs: 9700,
  secondComplaints: {},
};

t.test("the replicas rows compare 2 route replicas with 1", async (t) => {
  const rows = replicasRows(measured);
  t.equal(rows.length, 2);
  t.match(
    rows[1],
    /2 route replicas, same 16 partitions \| 1\.50k\/s \| 1 replica 1\.00k\/s \| 150 %/,
  );
  const notes = replicasNotes(measured).join("\n");
  t.match(notes, /the second held 8 of 16 partitions 9\.7 s into the load/);
  t.match(notes, /with 1 route replica 300 µs \(route 100 µs, nats 200 µs\)/);
  t.match(notes, /the two routes together 120 µs/);
});

t.test("without a second replica: one row and why", async (t) => {
  const failed: ReplicasResult = {
    ...measured,
    two: undefined,
    cost: { one: measured.cost.one },
    error: "route exited (code 1, signal null) before its ready line",
  };
  t.equal(replicasRows(failed).length, 1);
  t.match(replicasNotes(failed).join("\n"), /no second route measured \(route exited/);
});

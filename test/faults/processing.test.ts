/**
 * The fault suite's processing mode (issue 15): route runs the IoT example's rules in two
 * replicas while the generator's input (out of order, duplicated and late readings) goes in,
 * and the replicas are killed with SIGKILL on a seeded schedule: one at a time, and both at
 * once. Each take-over loads a partition's checkpoint from KV and replays from it; the
 * aggregates, alerts and late readings route publishes must equal the offline reference
 * exactly, none twice and none missing.
 */
import { fileURLToPath } from "node:url";
import t from "tap";
import type { ServiceProcess } from "../../devkit/service-process.ts";
import { publishAll } from "../../examples/load/publish.ts";
import { MAX_BATCH } from "../e2e/example-results.ts";
import { startExampleStack } from "../e2e/example-stack.ts";
import { compareIot, iotInput, iotSubscriber } from "../e2e/iot-results.ts";
import { faultSeed, Rng } from "./prng.ts";
import { sleep } from "./wait.ts";

const NAMESPACES = fileURLToPath(new URL("../../examples/iot/namespaces.yaml", import.meta.url));
const REPLICAS = 2;

/** Which replicas one fault kills together, how long before it and how long they stay down. */
interface RouteKill {
  replicas: number[];
  gapMs: number;
  downMs: number;
}

/** Each replica alone at least once and both at once once, in a seeded order. */
function planKills(rng: Rng): RouteKill[] {
  const targets = rng.shuffle([[0], [1], [rng.int(0, 1)], [0, 1]]);
  return targets.map((replicas) => ({
    replicas,
    gapMs: rng.int(1500, 4000),
    downMs: rng.int(200, 2000),
  }));
}

t.test("processing: route replicas killed with kill -9 under the IoT load, results equal the reference", async (t) => {
  const seed = faultSeed("processing");
  const kills = planKills(new Rng(seed));
  const stack = await startExampleStack(t, {
    namespaces: NAMESPACES,
    routeReplicas: REPLICAS,
    logName: "faults-processing",
  });
  const sub = await iotSubscriber(t, stack.notifyWs);
  const started = Date.now();
  const { planned, events, expected } = iotInput(stack.token, 40_000);
  const publishing = publishAll(events, {
    ingestUrl: stack.ingestHttp,
    token: stack.token,
    maxBatch: MAX_BATCH,
  });
  const { services } = stack;
  const route = (instance: number) => ({ name: "route" as const, instance });
  const LOADED = /^processing state loaded$/;
  const loads = (p: ServiceProcess) => p.countLogs(LOADED);
  const allLoads = () => services.countLogs(LOADED);
  const killCounts = [0, 0];
  let ownerKills = 0;
  for (const k of kills) {
    await sleep(k.gapMs);
    // A replica that loaded partitions holds some (balancing moves a few, never all).
    const owner = k.replicas.some((i) => loads(services.process(route(i))) > 0);
    const loadsBefore = allLoads();
    console.log(
      `[processing +${((Date.now() - started) / 1000).toFixed(1)}s] kill -9 route replica ${
        k.replicas.join(" and ")
      }${owner ? " (holding partitions)" : ""}, down ${k.downMs} ms`,
    );
    await Promise.all(k.replicas.map((i) => services.kill(route(i))));
    for (const i of k.replicas) killCounts[i]++;
    await sleep(k.downMs);
    await Promise.all(k.replicas.map((i) => services.start(route(i))));
    if (!owner) continue;
    ownerKills++;
    // Its partitions come back after the pin timeout (ack wait + 5 s), each from its checkpoint.
    const since = Date.now();
    while (allLoads() === loadsBefore && Date.now() - since < 20_000) await sleep(100);
    t.ok(
      allLoads() > loadsBefore,
      `the partitions of killed replica ${k.replicas} were taken over`,
    );
  }
  const stats = await publishing;
  const loadSeconds = (Date.now() - started) / 1000;
  t.equal(stats.failed, 0, "nothing refused");
  const distinct = new Set(planned.map((p) => p.id)).size;
  // Every kill can hold its partitions back for a pin timeout (ack wait + 5 s) before the
  // survivor, or the restarted replica, takes them over.
  const got = await compareIot(t, sub, expected, distinct, 60_000);

  t.same(services.unexpectedExits, [], "no service exited on its own");
  const loaded = services.history.flatMap((p) =>
    p.logs.filter((l) => l.msg === "processing state loaded")
  );
  const replayed = loaded.reduce((n, l) => n + Number(l.replayed ?? 0), 0);
  t.ok(
    ownerKills >= 2,
    `${ownerKills} of the ${kills.length} kills hit a replica holding partitions`,
  );
  console.log(
    [
      `=== fault figures: processing (IoT rules, ${REPLICAS} route replicas), FAULT_SEED=${seed}, ${
        loadSeconds.toFixed(0)
      } s under load`,
      `route kill -9: replica 0 ${killCounts[0]}, replica 1 ${killCounts[1]} ` +
      `(${
        kills.filter((k) => k.replicas.length > 1).length
      } of both at once, ${ownerKills} of a partition holder)`,
      `readings: ${planned.length} sent (${distinct} distinct), routed ${got.readings}`,
      `results: closed windows ${got.windows} of ${expected.windows.length}, alerts ${got.alerts} of ${expected.alerts.length}, ` +
      `late ${got.late} of ${expected.late.length}, duplicates ${got.duplicates}`,
      `take-overs: ${loaded.length} partition loads from checkpoints, ${replayed} inputs replayed`,
    ].join("\n"),
  );
});

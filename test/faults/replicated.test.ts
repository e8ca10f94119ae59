/**
 * The fault suite's replicated mode (issue 14): 2 ingest, 3 route, 2 persist and 2 notify
 * replicas on the 3-node R3 cluster, the suite's clients spread over the edges' replicas (each
 * reconnect goes to the next); route replicas killed with SIGKILL while they hold partitions
 * (one at a time and two at once), one replica each of ingest, persist and notify, and NATS
 * nodes, under load; the usual figures, and how the partitions moved.
 */
import t from "tap";
import { ClusterChaos } from "./cluster-chaos.ts";
import { drainAndVerify, startClusterHarness } from "./harness.ts";
import { Rng } from "./prng.ts";
import { ReplicasChaos } from "./replicas-chaos.ts";

/** As the issue asks: 3 route, 2 persist, 2 notify and 2 ingest replicas. */
const REPLICAS = { ingest: 2, route: 3, persist: 2, notify: 2 };

t.test("every service in replicas on the 3-node cluster: kill -9 of partition holders, of edge and persist replicas and of NATS nodes under load, nothing lost or repeated", async (t) => {
  const { seed, cluster, h } = await startClusterHarness(t, "replicated", REPLICAS);
  const chaos = new ReplicasChaos(h.services, new ClusterChaos(cluster));
  await chaos.run(new Rng(seed));
  const m = chaos.handOvers;
  t.ok(m.ownerKills >= 3, `${m.ownerKills} route kills hit replicas holding partitions`);
  t.equal(
    m.ownerKillsTakenOver,
    m.ownerKills,
    "after each, the partitions moved to a live replica",
  );
  await drainAndVerify(t, h, {
    title: `every service in replicas (2 ingest, 3 route, 2 persist, 2 notify), 3-node cluster`,
    seed,
    faults: chaos.counts,
  });
  console.log(
    `partition hand-overs: ${m.takeOvers} take-overs after the first start (${m.ownerKillsTakenOver} ` +
      `failovers after ${m.ownerKills} kills of holders), ${m.balanced} given up by balancing`,
  );
});

/**
 * The fault suite's replicated mode (issue 14): three route replicas on the 3-node R3
 * cluster, killed with SIGKILL while they hold partitions (one at a time and two at once),
 * and NATS nodes killed in between, under the suite's load; the usual figures, and how the
 * partitions moved.
 */
import t from "tap";
import { startNatsCluster } from "../../devkit/nats-cluster.ts";
import { natsUsers } from "../../devkit/nats-users.ts";
import { ClusterChaos } from "./cluster-chaos.ts";
import { drainAndVerify, startHarness } from "./harness.ts";
import { faultSeed, Rng } from "./prng.ts";
import { ReplicasChaos } from "./replicas-chaos.ts";

const ROUTE_REPLICAS = 3;

t.test("3 route replicas on the 3-node cluster: kill -9 of partition holders and NATS nodes under load, nothing lost or repeated", async (t) => {
  const seed = faultSeed("replicated");
  const users = natsUsers();
  const cluster = await startNatsCluster(3, users.server);
  const h = await startHarness(t, {
    servers: cluster.urls,
    users,
    replicas: 3,
    stopNats: () => cluster.stop(),
    routeReplicas: ROUTE_REPLICAS,
  });
  const chaos = new ReplicasChaos(h.routes!, new ClusterChaos(cluster));
  await chaos.run(new Rng(seed));
  const m = chaos.handOvers;
  t.ok(m.ownerKills >= 3, `${m.ownerKills} route kills hit replicas holding partitions`);
  t.equal(
    m.ownerKillsTakenOver,
    m.ownerKills,
    "after each, the partitions moved to a live replica",
  );
  await drainAndVerify(t, h, {
    title: `${ROUTE_REPLICAS} route replicas, 3-node cluster`,
    seed,
    faults: chaos.counts,
  });
  console.log(
    `partition hand-overs: ${m.takeOvers} take-overs after the first start (${m.ownerKillsTakenOver} ` +
      `failovers after ${m.ownerKills} kills of holders), ${m.balanced} given up by balancing`,
  );
});

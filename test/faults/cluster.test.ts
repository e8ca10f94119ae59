import t from "tap";
import { startNatsCluster } from "../../devkit/nats-cluster.ts";
import { natsUsers } from "../../devkit/nats-users.ts";
import { ClusterChaos } from "./cluster-chaos.ts";
import { drainAndVerify, startHarness } from "./harness.ts";
import { faultSeed, Rng } from "./prng.ts";

t.test("3-node cluster, R3 streams: kill -9 stream leaders and followers under load, nothing lost or repeated", async (t) => {
  const seed = faultSeed("cluster");
  const users = natsUsers();
  const cluster = await startNatsCluster(3, users.server);
  // The services get every node's URL and reconnect to whichever is up.
  const h = await startHarness(t, {
    servers: cluster.urls,
    users,
    replicas: 3,
    stopNats: () => cluster.stop(),
  });
  const chaos = new ClusterChaos(cluster);
  await chaos.run(new Rng(seed));
  await drainAndVerify(t, h, { title: "3-node cluster", seed, faults: chaos.counts });
});

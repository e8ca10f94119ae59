import t from "tap";
import { ClusterChaos } from "./cluster-chaos.ts";
import { drainAndVerify, startClusterHarness } from "./harness.ts";
import { Rng } from "./prng.ts";

t.test("3-node cluster, R3 streams: kill -9 stream leaders and followers under load, nothing lost or repeated", async (t) => {
  const { seed, cluster, h } = await startClusterHarness(t, "cluster");
  const chaos = new ClusterChaos(cluster);
  await chaos.run(new Rng(seed));
  await drainAndVerify(t, h, { title: "3-node cluster", seed, faults: chaos.counts });
});

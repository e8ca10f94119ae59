import { EVENTS_STREAM, INGEST_STREAM } from "../../subjects/mod.ts";
import type { NatsServerHandle } from "../../devkit/nats-server.ts";
import type { NatsCluster } from "../../devkit/nats-cluster.ts";
import { withJsm } from "./bus.ts";
import type { FaultCounts } from "./figures.ts";
import type { Rng } from "./prng.ts";
import { sleep, waitUntil } from "./wait.ts";

export type Role = "leader" | "follower";

interface StreamPeers {
  leader: string;
  followers: string[];
  /** Every replica has caught up with the leader. */
  current: boolean;
}

/**
 * Kills nodes of a 3-node cluster by their role for a stream: the leader of
 * INGEST or EVENTS, then a follower, then the same for the other stream. One
 * node is down at a time, so the streams keep their quorum and only lose
 * their leader; each node comes back (same ports, same store) and catches up
 * before the next kill.
 */
export class ClusterChaos {
  readonly counts: FaultCounts = { kills: {}, terms: {} };
  readonly #cluster: NatsCluster;
  readonly #started = Date.now();

  constructor(cluster: NatsCluster) {
    this.#cluster = cluster;
  }

  async run(rng: Rng): Promise<void> {
    const first = rng.pick([INGEST_STREAM, EVENTS_STREAM]);
    const second = first === INGEST_STREAM ? EVENTS_STREAM : INGEST_STREAM;
    const rounds: Array<[string, Role]> = [[first, "leader"], [first, "follower"], [
      second,
      "leader",
    ], [second, "follower"]];
    for (const [stream, role] of rounds) {
      await sleep(rng.int(2000, 4000));
      await this.killAndRestart(stream, role, rng.int(1000, 3000), rng);
    }
  }

  /** kill -9 of the node in `role` for `stream`; it comes back after `downMs` and catches up. */
  async killAndRestart(stream: string, role: Role, downMs: number, rng: Rng): Promise<void> {
    const peers = await this.#peers(stream);
    const name = role === "leader" ? peers.leader : rng.pick(peers.followers);
    const node = this.#node(name);
    this.#log(`kill -9 ${name} (${role} of ${stream}), down ${downMs} ms`);
    this.counts.kills[`nats ${name}`] = (this.counts.kills[`nats ${name}`] ?? 0) + 1;
    node.kill("SIGKILL");
    await node.exited();
    await sleep(downMs);
    await node.restart();
    await this.#cluster.waitForMetaLeader(60_000);
    const healthy = await waitUntil(
      async () =>
        (await Promise.all([INGEST_STREAM, EVENTS_STREAM].map((s) => this.#peers(s)))).every((p) =>
          p.current
        ),
      60_000,
      250,
    );
    if (!healthy.ok) {
      throw new Error(
        `streams did not catch up after ${name} came back: ${
          healthy.lastError ?? "replicas not current"
        }`,
      );
    }
    this.#log(`${name} back, streams current`);
  }

  async #peers(stream: string): Promise<StreamPeers> {
    let peers: StreamPeers | undefined;
    const found = await waitUntil(
      async () => {
        const cl = await withJsm(
          this.#cluster.urls,
          async (jsm) => (await jsm.streams.info(stream)).cluster,
        );
        if (!cl?.leader) {
          return false;
        }
        const replicas = cl.replicas ?? [];
        peers = {
          leader: cl.leader,
          followers: replicas.map((r) => r.name),
          current: replicas.length === this.#cluster.length - 1 &&
            replicas.every((r) => r.current && !r.offline),
        };
        return true;
      },
      60_000,
      250,
    );
    if (!peers) throw new Error(`stream ${stream} has no leader: ${found.lastError}`);
    return peers;
  }

  /** startNatsCluster names its nodes n1..nN in order. */
  #node(name: string): NatsServerHandle {
    const node = this.#cluster[Number(name.slice(1)) - 1];
    if (!node) throw new Error(`no cluster node named ${name}`);
    return node;
  }

  #log(msg: string): void {
    console.log(`[chaos +${((Date.now() - this.#started) / 1000).toFixed(1)}s] ${msg}`);
  }
}

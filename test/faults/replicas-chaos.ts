import { EVENTS_STREAM, INGEST_STREAM } from "../../subjects/mod.ts";
import { instanceLabel, type ServiceLauncher } from "../../devkit/launcher.ts";
import {
  heldPartitions,
  PARTITION_GAINED,
  PARTITION_HANDED_OVER,
} from "../../devkit/route-logs.ts";
import type { ClusterChaos } from "./cluster-chaos.ts";
import type { FaultCounts } from "./figures.ts";
import type { Rng } from "./prng.ts";
import { sleep } from "./wait.ts";

/** How partitions moved between route's replicas during a run. */
export interface HandOvers {
  /** Pins that came to a replica after the first start: failovers and balancing. */
  takeOvers: number;
  /** Partitions a replica gave away to even out the shares. */
  balanced: number;
  /** Kills that hit a replica holding partitions, and those whose partitions moved on. */
  ownerKills: number;
  ownerKillsTakenOver: number;
}

/**
 * The fault suite's replicated mode (issue 14): every service in replicas on the 3-node
 * cluster; route's killed with SIGKILL while they hold partitions, one at a time and two at
 * once, one replica each of ingest, persist and notify, and NATS nodes (a stream leader, a
 * follower), in a seeded order. After each route kill the run
 * waits until the dead replicas' partitions are pinned elsewhere, so every kill is a real
 * failover under load rather than a restart the pin timeout hides.
 */
export class ReplicasChaos {
  readonly counts: FaultCounts = { kills: {}, terms: {} };
  readonly handOvers: HandOvers = {
    takeOvers: 0,
    balanced: 0,
    ownerKills: 0,
    ownerKillsTakenOver: 0,
  };
  readonly #services: ServiceLauncher;
  readonly #nodes: ClusterChaos;
  readonly #started = Date.now();
  #initialGains = 0;

  constructor(services: ServiceLauncher, nodes: ClusterChaos) {
    this.#services = services;
    this.#nodes = nodes;
  }

  async run(rng: Rng): Promise<void> {
    this.#initialGains = this.#services.countLogs(PARTITION_GAINED);
    const steps: Array<() => Promise<void>> = rng.shuffle([
      () => this.#killRoutes(1, rng),
      () => this.#killRoutes(1, rng),
      () => this.#killRoutes(2, rng),
      () => this.#killNode(rng),
      () => this.#killNode(rng),
      () => this.#killReplica("ingest", rng),
      () => this.#killReplica("persist", rng),
      () => this.#killReplica("notify", rng),
    ]);
    steps.push(() => this.#killRoutes(2, rng));
    for (const step of steps) {
      await sleep(rng.int(1500, 3500));
      await step();
    }
    this.handOvers.takeOvers = this.#services.countLogs(PARTITION_GAINED) - this.#initialGains;
    this.handOvers.balanced = this.#services.countLogs(PARTITION_HANDED_OVER);
    const node = this.#nodes.counts.kills;
    for (const [k, v] of Object.entries(node)) this.counts.kills[k] = v;
  }

  /** kill -9 of `n` replicas, those holding the most partitions first, then their restart. */
  async #killRoutes(n: number, rng: Rng): Promise<void> {
    const byHolding = this.#services.refsOf("route")
      .map((ref) => ({ ref, i: ref.instance, held: heldPartitions(this.#services.process(ref)) }))
      .sort((a, b) => b.held - a.held || a.i - b.i);
    const victims = byHolding.slice(0, n).filter((v) => v.held > 0 || n > 1);
    if (victims.length === 0) return;
    const downMs = rng.int(200, 2000);
    const gainsBefore = this.#services.countLogs(PARTITION_GAINED);
    this.#log(
      `kill -9 route ${victims.map((v) => `replica ${v.i} (holding ${v.held})`).join(" and ")}` +
        `, down ${downMs} ms`,
    );
    await Promise.all(victims.map((v) => this.#services.kill(v.ref)));
    for (const v of victims) {
      this.counts.kills[`route ${v.i}`] = (this.counts.kills[`route ${v.i}`] ?? 0) + 1;
    }
    await sleep(downMs);
    await Promise.all(victims.map((v) => this.#services.start(v.ref)));
    if (!victims.some((v) => v.held > 0)) return;
    this.handOvers.ownerKills++;
    // The pins lapse after the pin timeout (ack wait + 5 s); only then do the partitions move,
    // each with its next message: one the load leaves idle stays pinned to the dead replica.
    const heldSum = victims.reduce((n, v) => n + v.held, 0);
    const gained = () => this.#services.countLogs(PARTITION_GAINED) - gainsBefore;
    const since = Date.now();
    while (gained() < heldSum && Date.now() - since < 14_000) await sleep(100);
    if (gained() > 0) this.handOvers.ownerKillsTakenOver++;
    this.#log(`partitions taken over: ${gained()} of the ${heldSum} the killed replicas held`);
  }

  /**
   * kill -9 of one replica of an edge or of persist: its clients move to another replica and
   * resume there, what it held unacked goes to another after the ack wait.
   */
  async #killReplica(name: "ingest" | "persist" | "notify", rng: Rng): Promise<void> {
    const ref = rng.pick(this.#services.refsOf(name));
    const label = instanceLabel(ref);
    const downMs = rng.int(200, 2000);
    this.#log(`kill -9 ${label}, down ${downMs} ms`);
    this.counts.kills[label] = (this.counts.kills[label] ?? 0) + 1;
    await this.#services.kill(ref);
    await sleep(downMs);
    await this.#services.start(ref);
  }

  /** kill -9 of a NATS node: the leader or a follower of INGEST or EVENTS. */
  async #killNode(rng: Rng): Promise<void> {
    const stream = rng.pick([INGEST_STREAM, EVENTS_STREAM]);
    const role = rng.pick(["leader", "follower"] as const);
    await this.#nodes.killAndRestart(stream, role, rng.int(1000, 3000), rng);
  }

  #log(msg: string): void {
    console.log(`[chaos +${((Date.now() - this.#started) / 1000).toFixed(1)}s] ${msg}`);
  }
}

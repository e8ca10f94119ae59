import { EVENTS_STREAM, INGEST_STREAM } from "../../subjects/mod.ts";
import type { RouteReplicas } from "../../devkit/route-replicas.ts";
import type { ServiceProcess } from "../../devkit/service-process.ts";
import type { ClusterChaos } from "./cluster-chaos.ts";
import type { FaultCounts } from "./figures.ts";
import type { Rng } from "./prng.ts";
import { sleep } from "./wait.ts";

const GAINED = /^partition taken over$/;
const BALANCED = /^partition handed over$/;

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
 * The fault suite's replicated mode (issue 14): route in several replicas on the 3-node
 * cluster, killed with SIGKILL while they hold partitions, one at a time and two at once, and
 * NATS nodes killed in between (a stream leader, a follower). After each route kill the run
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
  readonly #routes: RouteReplicas;
  readonly #nodes: ClusterChaos;
  readonly #started = Date.now();
  #initialGains = 0;

  constructor(routes: RouteReplicas, nodes: ClusterChaos) {
    this.#routes = routes;
    this.#nodes = nodes;
  }

  async run(rng: Rng): Promise<void> {
    this.#initialGains = this.#routes.countLogs(GAINED);
    const steps: Array<() => Promise<void>> = rng.shuffle([
      () => this.#killRoutes(1, rng),
      () => this.#killRoutes(1, rng),
      () => this.#killRoutes(2, rng),
      () => this.#killNode(rng),
      () => this.#killNode(rng),
    ]);
    steps.push(() => this.#killRoutes(2, rng));
    for (const step of steps) {
      await sleep(rng.int(1500, 3500));
      await step();
    }
    this.handOvers.takeOvers = this.#routes.countLogs(GAINED) - this.#initialGains;
    this.handOvers.balanced = this.#routes.countLogs(BALANCED);
    const node = this.#nodes.counts.kills;
    for (const [k, v] of Object.entries(node)) this.counts.kills[k] = v;
  }

  /** kill -9 of `n` replicas, those holding the most partitions first, then their restart. */
  async #killRoutes(n: number, rng: Rng): Promise<void> {
    const byHolding = [...Array(this.#routes.count).keys()]
      .map((i) => ({ i, held: held(this.#routes.process(i)) }))
      .sort((a, b) => b.held - a.held || a.i - b.i);
    const victims = byHolding.slice(0, n).filter((v) => v.held > 0 || n > 1);
    if (victims.length === 0) return;
    const downMs = rng.int(200, 2000);
    const gainsBefore = this.#routes.countLogs(GAINED);
    this.#log(
      `kill -9 route ${victims.map((v) => `replica ${v.i} (holding ${v.held})`).join(" and ")}` +
        `, down ${downMs} ms`,
    );
    await Promise.all(victims.map((v) => this.#routes.kill(v.i)));
    for (const v of victims) {
      this.counts.kills[`route ${v.i}`] = (this.counts.kills[`route ${v.i}`] ?? 0) + 1;
    }
    await sleep(downMs);
    await Promise.all(victims.map((v) => this.#routes.start(v.i)));
    if (!victims.some((v) => v.held > 0)) return;
    this.handOvers.ownerKills++;
    // The pins lapse after the pin timeout (ack wait + 5 s); only then do the partitions move.
    const heldSum = victims.reduce((n, v) => n + v.held, 0);
    const gained = () => this.#routes.countLogs(GAINED) - gainsBefore;
    const since = Date.now();
    while (gained() < heldSum && Date.now() - since < 20_000) await sleep(100);
    if (gained() > 0) this.handOvers.ownerKillsTakenOver++;
    this.#log(`partitions taken over: ${gained()} of the ${heldSum} the killed replicas held`);
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

/** Partitions a route process holds now, from its own log: gained less handed over. */
function held(p: ServiceProcess | undefined): number {
  if (!p) return 0;
  const count = (re: RegExp) =>
    p.logs.filter((l) => typeof l.msg === "string" && re.test(l.msg)).length;
  return count(GAINED) - count(BALANCED);
}

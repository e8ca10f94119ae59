import { SERVICE_NAMES, type ServiceName } from "../../devkit/catalog.ts";
import type { NatsServerHandle } from "../../devkit/nats-server.ts";
import { busState, type ConsumerCounts } from "./bus.ts";
import type { FaultCounts } from "./figures.ts";
import type { Rng } from "./prng.ts";
import type { ServiceLauncher } from "../../devkit/launcher.ts";
import { sleep, waitUntil } from "./wait.ts";
import { parseMetrics, valueOf } from "../../devkit/prometheus.ts";
import { PIN_TIMEOUT_MARGIN_MS } from "../../internal/route/config.ts";

export type Target = ServiceName | "nats";

export interface Fault {
  kind: "kill" | "term";
  target: Target;
  /** Pause before the fault, while the load runs. */
  gapMs: number;
  /** How long the process stays down before it is started again. */
  downMs: number;
}

/**
 * Every target killed `kills` times and every service stopped gracefully `terms` times, in a
 * random order.
 */
export function planFaults(rng: Rng, o: { kills: number; terms: number }): Fault[] {
  const faults: Array<Pick<Fault, "kind" | "target">> = [];
  for (const target of [...SERVICE_NAMES, "nats"] as const) {
    for (let i = 0; i < o.kills; i++) faults.push({ kind: "kill", target });
  }
  for (const target of SERVICE_NAMES) {
    for (let i = 0; i < o.terms; i++) faults.push({ kind: "term", target });
  }
  return rng.shuffle(faults).map((f) => ({
    ...f,
    gapMs: rng.int(500, 2500),
    downMs: rng.int(100, 1500),
  }));
}

/** What one graceful stop of route or persist left behind on its durable consumer. */
export interface TermCheck {
  service: ServiceName;
  exitCode: number | null;
  stopMs: number;
  /** Messages the stopped process took and did not ack; they would be redelivered. */
  ackPendingAfterExit?: number;
  /** Redeliveries on its consumer from just before the stop until one ack wait after it. */
  redeliveries?: number;
}

type Durable = "route" | "persist";

/**
 * Runs a fault plan against a single nats-server and the services, one fault
 * at a time. A graceful stop of route or persist is measured on its durable
 * consumer, so it runs in a quiet window: no crash of that service or of
 * nats-server for one ack wait before it (their messages would still be coming
 * back) and until one ack wait after it (anything it failed to ack would have
 * come back by then).
 */
export class SingleNodeChaos {
  readonly counts: FaultCounts = { kills: {}, terms: {} };
  readonly termChecks: TermCheck[] = [];
  readonly #services: ServiceLauncher;
  readonly #nats: NatsServerHandle;
  readonly #ackWaitMs: number;
  readonly #started = Date.now();
  /** When each durable's service last came back from a crash that may leave messages unacked. */
  readonly #lastCrash: Record<Durable, number> = { route: 0, persist: 0 };

  constructor(o: { services: ServiceLauncher; nats: NatsServerHandle; ackWaitMs: number }) {
    this.#services = o.services;
    this.#nats = o.nats;
    this.#ackWaitMs = o.ackWaitMs;
  }

  async run(plan: Fault[]): Promise<void> {
    for (const f of plan) {
      await sleep(f.gapMs);
      if (f.kind === "kill") await this.#kill(f.target, f.downMs);
      else await this.#term(f.target as ServiceName, f.downMs);
    }
  }

  #log(msg: string): void {
    console.log(`[chaos +${((Date.now() - this.#started) / 1000).toFixed(1)}s] ${msg}`);
  }

  async #kill(target: Target, downMs: number): Promise<void> {
    this.#log(`kill -9 ${target}, down ${downMs} ms`);
    this.counts.kills[target] = (this.counts.kills[target] ?? 0) + 1;
    if (target === "nats") {
      this.#nats.kill("SIGKILL");
      await this.#nats.exited();
      await sleep(downMs);
      await this.#nats.restart();
      this.#lastCrash.route = this.#lastCrash.persist = Date.now();
      return;
    }
    await this.#services.kill(target);
    await sleep(downMs);
    await this.#services.start(target);
    if (target === "route" || target === "persist") this.#lastCrash[target] = Date.now();
  }

  async #term(service: ServiceName, downMs: number): Promise<void> {
    this.counts.terms[service] = (this.counts.terms[service] ?? 0) + 1;
    if (service !== "route" && service !== "persist") {
      this.#log(`SIGTERM ${service}, down ${downMs} ms`);
      const r = await this.#services.term(service);
      this.termChecks.push({ service, exitCode: r.code, stopMs: r.ms });
      await sleep(downMs);
      await this.#services.start(service);
      return;
    }
    // After a crash of route its partitions stay pinned to the dead process for the pin
    // timeout (ROUTE_ACK_WAIT + PIN_TIMEOUT_MARGIN_MS), and only then come back to the new
    // one with the events left unacked: the quiet window covers that too.
    const pinLapse = service === "route" ? PIN_TIMEOUT_MARGIN_MS + 2000 : 0;
    const quietSince = this.#lastCrash[service] + this.#ackWaitMs + 1000 + pinLapse;
    if (Date.now() < quietSince) await sleep(quietSince - Date.now());
    this.#log(`SIGTERM ${service}, down ${downMs} ms (measured on its durable consumer)`);
    const before = await this.#consumer(service);
    const r = await this.#services.term(service);
    const stoppedAt = Date.now();
    const afterExit = await this.#consumer(service);
    await sleep(downMs);
    await this.#services.start(service);
    await sleep(Math.max(0, stoppedAt + this.#ackWaitMs + 1500 - Date.now()));
    const redeliveries = service === "route"
      ? await this.#routeRedeliveries()
      : (await this.#consumer(service)).redeliveries - before.redeliveries;
    this.termChecks.push({
      service,
      exitCode: r.code,
      stopMs: r.ms,
      ackPendingAfterExit: afterExit.ackPending,
      redeliveries,
    });
  }

  /**
   * What the restarted route counted itself: anything the stopped one left unacked comes back
   * to it. Exact, where summing the partition durables against the stream is not under load.
   */
  async #routeRedeliveries(): Promise<number> {
    const text = await (await fetch(`${this.#services.opsUrl("route")}/metrics`)).text();
    const n = valueOf(parseMetrics(text), "jetmesh_events_redelivered_total");
    if (n === undefined) {
      throw new Error("route's /metrics has no jetmesh_events_redelivered_total");
    }
    return n;
  }

  async #consumer(durable: Durable): Promise<ConsumerCounts> {
    let counts: ConsumerCounts | undefined;
    const read = await waitUntil(
      async () => {
        counts = (await busState([this.#nats.url]))[durable];
        return true;
      },
      10_000,
      100,
    );
    if (!read.ok) throw new Error(`cannot read consumer ${durable}: ${read.lastError}`);
    return counts!;
  }
}

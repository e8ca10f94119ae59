/**
 * A JetStream cluster of real nats-server processes on loopback for tests,
 * the fault suite and the bench's durability phase.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { freePorts } from "./ports.ts";
import {
  findNatsServer,
  isPortClash,
  loopbackArgs,
  mkStore,
  type NatsServerHandle,
  NatsServerMissingError,
  Server,
} from "./nats-server.ts";

export type NatsCluster = NatsServerHandle[] & {
  /** All client URLs, for `connect({ servers: cluster.urls })`. */
  readonly urls: string[];
  readonly name: string;
  /**
   * Waits until every running node sees the same JetStream meta leader; returns its server
   * name.
   */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  /** Stops every node and removes their store dirs. */
  stop(): Promise<void>;
};

interface JszMeta {
  server_name?: string;
  meta_cluster?: { name?: string; leader?: string; cluster_size?: number };
}

/**
 * Starts an n-node JetStream cluster on loopback (routes between all nodes,
 * server names n1..nN) and waits until every node sees a meta leader.
 */
export async function startNatsCluster(
  n = 3,
  opts: { args?: string[]; readyTimeoutMs?: number; env?: Record<string, string> } = {},
): Promise<NatsCluster> {
  const bin = findNatsServer();
  if (!bin) throw new NatsServerMissingError();
  if (n < 1) throw new Error("startNatsCluster: n must be at least 1");
  const name = `jm-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const timeout = opts.readyTimeoutMs ?? 30_000;

  for (let attempt = 1;; attempt++) {
    const ports = await freePorts(3 * n);
    const nodes: Server[] = [];
    for (let i = 0; i < n; i++) {
      const [port, monitorPort, clusterPort] = ports.slice(3 * i, 3 * i + 3);
      const routes = ports
        .filter((_, j) => j % 3 === 2 && j !== 3 * i + 2)
        .map((p) => `nats://127.0.0.1:${p}`)
        .join(",");
      const storeDir = mkStore(`jm-nats-n${i + 1}-`);
      const args = [
        ...loopbackArgs(port, monitorPort, storeDir),
        "--server_name",
        `n${i + 1}`,
        "--cluster_name",
        name,
        "--cluster",
        `nats://127.0.0.1:${clusterPort}`,
      ];
      if (routes !== "") args.push("--routes", routes);
      args.push(...(opts.args ?? []));
      nodes.push(
        new Server({
          bin,
          port,
          monitorPort,
          storeDir,
          ownsStore: true,
          args,
          name: `n${i + 1}`,
          readyTimeoutMs: timeout,
          // Cluster nodes answer /healthz only once the meta group is up; readiness
          // here is just "serving", the meta leader is awaited below.
          readyPath: "/varz",
          env: opts.env,
        }),
      );
    }
    const stopAll = () => Promise.all(nodes.map((s) => s.stop())).then(() => undefined);
    try {
      await Promise.all(nodes.map((s) => s.spawn()));
    } catch (err) {
      await stopAll();
      if (attempt < 5 && isPortClash(err)) continue;
      throw err;
    }

    const waitForMetaLeader = async (timeoutMs = timeout): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      let last = "";
      while (Date.now() < deadline) {
        try {
          const live = nodes.filter((s) => s.running);
          const seen = await Promise.all(live.map((s) => s.monitor<JszMeta>("/jsz")));
          const leaders = new Set(seen.map((j) => j.meta_cluster?.leader ?? ""));
          const health = await Promise.all(
            live.map((s) =>
              fetch(`${s.monitorUrl}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) =>
                r.ok
              )
            ),
          );
          const [leader] = [...leaders];
          if (leaders.size === 1 && leader !== "" && health.every(Boolean)) return leader;
          last = `leaders seen: ${JSON.stringify([...leaders])}, healthy: ${
            JSON.stringify(health)
          }`;
        } catch (err) {
          last = String(err);
        }
        await sleep(100);
      }
      throw new Error(`cluster ${name}: no JetStream meta leader after ${timeoutMs} ms (${last})`);
    };

    try {
      await waitForMetaLeader();
    } catch (err) {
      const tails = nodes.map((s) => `--- ${s.url}\n${s.logTail()}`).join("\n");
      await stopAll();
      throw new Error(`${String(err)}\n${tails}`);
    }

    return Object.assign(nodes as NatsServerHandle[], {
      urls: nodes.map((s) => s.url),
      name,
      waitForMetaLeader,
      stop: stopAll,
    });
  }
}

/**
 * The JetStream manager once the node the connection landed on serves the JetStream API. A
 * cluster node can report a meta leader and a healthy /healthz and still answer the first API
 * request with "no responders" (nats.js: "jetstream is not enabled") for a moment, more often on
 * a loaded machine.
 */
export async function jetstreamManagerWhenReady(
  nc: NatsConnection,
  timeoutMs = 20_000,
): Promise<JetStreamManager> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await jetstreamManager(nc);
    } catch (err) {
      if (Date.now() > deadline || !/jetstream is not enabled/i.test(String(err))) throw err;
      await sleep(200);
    }
  }
}

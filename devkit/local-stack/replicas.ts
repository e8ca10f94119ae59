/**
 * `make run-local REPLICAS=n` (RUN_LOCAL_REPLICAS): n processes of every
 * service, as behind a load balancer. Replica 0 listens where a single
 * process would; replica i on each of its ports plus 100 × i (8080, 8180,
 * 8280 for ingest), so the ports are known before anything starts and the
 * same every run; `--smoke` gives every replica free ports instead.
 */
import { readdirSync } from "node:fs";
import { instanceLabel } from "../launcher.ts";
import {
  type Listener,
  listenersOf,
  type ServiceName,
  SERVICES,
  type ServiceSpec,
} from "../catalog.ts";
import { freePort } from "../ports.ts";
import type { LocalContext } from "./context.ts";

/** Each of PGlite's 16 connections is a notify's or persist's whole pool, with room for the tools. */
export const MAX_REPLICAS = 6;
const PORT_STEP = 100;

/** The replica count RUN_LOCAL_REPLICAS asks for (1 when unset), or why it cannot be. */
export function replicaCount(env: NodeJS.ProcessEnv): number | string {
  const raw = env.RUN_LOCAL_REPLICAS || "1";
  const n = Number(raw);
  return /^\d+$/.test(raw) && n >= 1 && n <= MAX_REPLICAS
    ? n
    : `REPLICAS=${raw}: a whole number from 1 to ${MAX_REPLICAS}`;
}

/** The port variables of every replica past the first, by instanceLabel. */
export type ReplicaPorts = Map<string, Record<string, string>>;

/**
 * Ports for instances 1 to n-1 of every service: replica 0's (from `env`) plus 100 × instance,
 * or with `free` any free ports.
 */
export async function replicaPorts(
  env: NodeJS.ProcessEnv,
  n: number,
  free: boolean,
): Promise<ReplicaPorts> {
  const ports: ReplicaPorts = new Map();
  for (const s of SERVICES) {
    for (let instance = 1; instance < n; instance++) {
      const vars: Record<string, string> = {};
      for (const l of listenersOf(s)) {
        const first = Number(env[l.variable] || l.defaultPort);
        vars[l.variable] = String(free ? await freePort() : first + PORT_STEP * instance);
      }
      ports.set(instanceLabel({ name: s.name, instance }), vars);
    }
  }
  return ports;
}

/** Each replica's port of one of `s`'s listeners, replica 0's first. */
export function portsOf(
  ctx: Pick<LocalContext, "env" | "replicas" | "replicaPorts">,
  s: ServiceSpec,
  l: Listener,
): number[] {
  return Array.from({ length: ctx.replicas }, (_, instance) => {
    const env = instance === 0
      ? ctx.env
      : ctx.replicaPorts.get(instanceLabel({ name: s.name, instance }));
    return Number(env?.[l.variable] || l.defaultPort);
  });
}

/**
 * The labels of `name`'s processes a pid file in `pidDir` names: replica 0's and those of any
 * replica count an earlier run had.
 */
export function pidFileLabels(pidDir: string, name: ServiceName): string[] {
  const re = new RegExp(`^(${name}(?:-\\d+)?)\\.pid$`);
  return readdirSync(pidDir).flatMap((f) => re.exec(f)?.[1] ?? []);
}

/** What the parts of a local stack share: where it keeps its files, its settings, its children. */
import { join } from "node:path";
import { type ProcessOptions, ServiceProcess } from "../service-process.ts";
import { type Paint, prefix } from "./console.ts";
import type { ReplicaPorts } from "./replicas.ts";

/** A process run-local started: nats-server, PGlite, Jaeger, the migration, a service. */
export type Child = ServiceProcess;

export interface LocalContext {
  root: string;
  /** .data, or a temporary directory for --smoke. */
  dataDir: string;
  /** Where the children's pid files are. */
  pidDir: string;
  /** The environment run-local was started with, plus what it decided (hosts, ports). */
  env: NodeJS.ProcessEnv;
  /** Free ports and a temporary data dir, so it runs beside a running run-local. */
  smoke: boolean;
  /** Processes per service (RUN_LOCAL_REPLICAS), once prepareServices has read it. */
  replicas: number;
  /** Where the replicas past the first listen, once prepareServices has placed them. */
  replicaPorts: ReplicaPorts;
  /** RUN_LOCAL_LOG=json: the services' log lines as they are. */
  rawLogs: boolean;
  /** A directory as printed: relative to the root when inside it. */
  shownDir(dir: string): string;
  /** Registers a child: its exit before the stack stops is a failure of the whole stack. */
  watch(child: Child): Child;
}

/**
 * How run-local runs every child: in its own process group (a terminal's Ctrl-C reaches only
 * run-local, which stops them in order), its lines printed behind a coloured [name] prefix
 * (`filter` returns the text to print, or undefined to hide a line), and a pid file so a
 * leftover of a killed run is stopped next time (leftovers.ts).
 */
export function childOptions(
  ctx: LocalContext,
  name: string,
  paint: Paint,
  filter?: (line: string) => string | undefined,
): ProcessOptions {
  return {
    cwd: ctx.root,
    group: true,
    echo: { prefix: prefix(name, paint), filter },
    pidFile: join(ctx.pidDir, `${name}.pid`),
  };
}

/** Starts `command` as a child of run-local (see childOptions). */
export function spawnChild(
  ctx: LocalContext,
  o: {
    name: string;
    command: string;
    args: string[];
    env: NodeJS.ProcessEnv;
    paint: Paint;
    filter?: (line: string) => string | undefined;
  },
): Child {
  return new ServiceProcess({ ...o, ...childOptions(ctx, o.name, o.paint, o.filter) });
}

/** A part of the stack did not come up; `tail` is what it printed last. */
export class StartFailure extends Error {
  constructor(message: string, readonly tail: string[] = []) {
    super(message);
    this.name = "StartFailure";
  }
}

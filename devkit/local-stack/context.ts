/** What the parts of a local stack share: where it keeps its files, its settings, its children. */
import type { Child } from "./child.ts";

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
  /** RUN_LOCAL_LOG=json: the services' log lines as they are. */
  rawLogs: boolean;
  /** A directory as printed: relative to the root when inside it. */
  shownDir(dir: string): string;
  /** Registers a child: its exit before the stack stops is a failure of the whole stack. */
  watch(child: Child): Child;
}

/** A part of the stack did not come up; `tail` is what it printed last. */
export class StartFailure extends Error {
  constructor(message: string, readonly tail: string[] = []) {
    super(message);
    this.name = "StartFailure";
  }
}

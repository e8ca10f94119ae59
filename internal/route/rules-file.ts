/**
 * Route's processing rules from the namespaces file (JETMESH_NAMESPACES, the one
 * ingest and notify read): compiled at start, where a file that does not compile
 * stops route with every problem listed, and again when the file changes
 * (its mtime or size, polled, or SIGHUP). A changed file that does not compile is
 * logged and the previous rules stay: a typo must not stop the routing.
 */
import { statSync } from "node:fs";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { loadNamespaces, type NamespacesConfig, NamespacesError } from "../namespaces/mod.ts";
import { ProcessingConfigError, ProcessingSet } from "../processing/mod.ts";

/** How often the file's mtime is compared; a SIGHUP reloads at once. */
export const RULES_POLL_MS = 3000;

/** The rules of `config`; a `bad_config` JetmeshError listing every problem. */
export function compileProcessing(config: NamespacesConfig): ProcessingSet {
  try {
    return ProcessingSet.fromConfig(config);
  } catch (err) {
    if (err instanceof ProcessingConfigError) {
      throw new JetmeshError("bad_config", err.message, { cause: err });
    }
    throw err;
  }
}

function problemsOf(err: unknown): string[] {
  if (err instanceof NamespacesError || err instanceof ProcessingConfigError) return err.problems;
  if (err instanceof JetmeshError && err.cause instanceof ProcessingConfigError) {
    return err.cause.problems;
  }
  return [String((err as Error)?.message ?? err)];
}

function stamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.mtimeMs}:${s.size}`;
  } catch {
    return "missing";
  }
}

export interface RulesWatcherOptions {
  path: string;
  log: Logger;
  /** Called with rules that compiled, one call at a time. */
  onChange: (set: ProcessingSet) => Promise<void>;
  pollMs?: number;
}

export class RulesWatcher {
  readonly #o: RulesWatcherOptions;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #onHup = () => void this.check(true);
  #stamp: string;
  #running: Promise<void> = Promise.resolve();

  constructor(o: RulesWatcherOptions) {
    this.#o = o;
    this.#stamp = stamp(o.path);
    this.#timer = setInterval(() => void this.check(false), o.pollMs ?? RULES_POLL_MS);
    (this.#timer as { unref?: () => void }).unref?.();
    process.on("SIGHUP", this.#onHup);
  }

  /** Reloads when the file changed (or always, `force`); resolves once done. */
  check(force: boolean): Promise<void> {
    this.#running = this.#running.then(async () => {
      const now = stamp(this.#o.path);
      if (!force && now === this.#stamp) return;
      this.#stamp = now;
      let next: ProcessingSet;
      try {
        next = compileProcessing(loadNamespaces(this.#o.path));
      } catch (err) {
        this.#o.log.error("namespaces file not reloaded; the previous rules stay", {
          file: this.#o.path,
          problems: problemsOf(err),
        });
        return;
      }
      try {
        await this.#o.onChange(next);
        this.#o.log.info("processing rules reloaded", {
          file: this.#o.path,
          namespaces: next.namespaces,
        });
      } catch (err) {
        this.#o.log.error("processing rules not applied", { err, file: this.#o.path });
      }
    });
    return this.#running;
  }

  stop(): void {
    clearInterval(this.#timer);
    process.off("SIGHUP", this.#onHup);
  }
}

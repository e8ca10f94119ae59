/**
 * Whether route runs processing rules, decided at start from the namespaces file
 * (docs/processing.md "How route runs it", steps 1 and 7). Kept apart from app.ts
 * so that the v1 path there stays as it was when no namespace has rules.
 */
import type { Bus, StreamPublisher } from "../bus/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { RouteConfig } from "./config.ts";
import type { RouteMetrics } from "./metrics.ts";
import { RouteProcessing } from "./processing.ts";
import { compileProcessing, RulesWatcher } from "./rules-file.ts";
import type { SeenIds } from "./seen.ts";

export interface RulesDeps {
  bus: Bus;
  pub: StreamPublisher;
  seen?: SeenIds;
  log: Logger;
  metrics: RouteMetrics;
  signal: AbortSignal;
}

export interface RunningRules {
  /** Undefined when no namespace had rules at start. */
  processing: RouteProcessing | undefined;
  stop(): void;
}

/** Undefined without a namespaces file. Throws `bad_config` when its rules do not compile. */
export async function startRules(
  cfg: RouteConfig,
  d: RulesDeps,
): Promise<RunningRules | undefined> {
  const file = cfg.namespacesFile;
  if (file === undefined) return undefined;
  const set = compileProcessing(cfg.namespaces);
  // No rules: no engine, no queue per partition, no checkpoint bucket bound.
  const processing = set.namespaces.length === 0 ? undefined : await RouteProcessing.open({
    nc: d.bus.nc,
    js: d.bus.js,
    jsm: d.bus.jsm,
    pub: d.pub,
    seen: d.seen,
    log: d.log,
    metrics: d.metrics,
    signal: d.signal,
    checkpoints: { everyMs: cfg.checkpointEveryMs },
  }, set);
  if (processing) d.log.info("processing rules loaded", { file, namespaces: set.namespaces });
  const watcher = new RulesWatcher({
    path: file,
    log: d.log,
    onChange: async (next) => {
      if (processing) return await processing.reload(next);
      // The relay chose its path at start; rules where there were none need a restart.
      if (next.namespaces.length > 0) {
        d.log.warn("namespaces file now has processing rules: restart route to run them", {
          file,
          namespaces: next.namespaces,
        });
      }
    },
  });
  return { processing, stop: () => watcher.stop() };
}

import type { Env } from "../config/mod.ts";
import type { Level, Logger } from "../log/mod.ts";
import { createLogger } from "../log/mod.ts";
import type { RunningService } from "./service.ts";
import { exitOnStartFailure, stopOnSignals } from "./signals.ts";

/**
 * What every cmd/<svc>/main.ts does: read config from the environment, start,
 * stop gracefully on SIGINT/SIGTERM; a bad config or failed start exits 1 with
 * one JSON log line saying why.
 */
export async function runMain<C extends { common: { logLevel: Level } }>(
  svc: string,
  readConfig: (env: Env) => C,
  start: (cfg: C, log: Logger) => Promise<RunningService>,
): Promise<void> {
  const boot = createLogger({ svc });
  try {
    const cfg = readConfig(process.env);
    const log = createLogger({ svc }, { level: cfg.common.logLevel });
    const running = await start(cfg, log);
    stopOnSignals(log, running.stop);
  } catch (err) {
    exitOnStartFailure(boot, err);
  }
}

import type { Logger } from "../log/mod.ts";

/**
 * Runs `stop` once on the first SIGINT or SIGTERM, then exits. A second signal
 * exits at once, for a stop that hangs.
 */
export function stopOnSignals(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      log.warn("second signal, exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    log.info("stopping", { signal });
    stop().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (err) => {
        log.error("stop failed", { err });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => handler("SIGINT"));
  process.on("SIGTERM", () => handler("SIGTERM"));
}

/**
 * Logs a failed start and exits non-zero: start-up errors (bad config, no NATS) end the process
 * with a clear line.
 */
export function exitOnStartFailure(log: Logger, err: unknown): never {
  log.error("start failed", { err });
  process.exit(1);
}

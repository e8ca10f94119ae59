import { openBus } from "../../internal/bus/mod.ts";
import { DLQ_STREAM } from "../../subjects/mod.ts";
import { readReplayConfig, replayDlq } from "../../internal/dlq/mod.ts";
import { exitOnStartFailure } from "../../internal/lifecycle/mod.ts";
import { createLogger } from "../../internal/log/mod.ts";
import { openStore } from "../../internal/store/mod.ts";

// One-shot: replays DLQ once the cause is fixed; exits 1 when some events still fail.
const boot = createLogger({ svc: "replay-dlq" });
try {
  const cfg = readReplayConfig(process.env, process.argv.slice(2));
  const log = createLogger({ svc: "replay-dlq" }, { level: cfg.common.logLevel });
  const store = openStore(cfg.database, log);
  const bus = await openBus(cfg.common.nats, "replay-dlq", [DLQ_STREAM], log);
  const result = await replayDlq({
    js: bus.js,
    jsm: bus.jsm,
    store,
    log,
    service: cfg.service,
    dryRun: cfg.dryRun,
  });
  log.info("replay done", { ...result });
  await bus.nc.drain();
  await store.close();
  process.exit(result.failed > 0 ? 1 : 0);
} catch (err) {
  exitOnStartFailure(boot, err);
}

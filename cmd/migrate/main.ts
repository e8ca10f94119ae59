/**
 * `make migrate`: creates or updates the JetStream streams and KV buckets, as
 * the NATS admin user (NATS_USER=admin NATS_PASSWORD=…), before the services
 * start. One-shot: exit 0 when everything is in place, 1 with one JSON line
 * saying why not.
 */
import { createLogger } from "../../internal/log/mod.ts";
import { readMigrateConfig, runMigrate } from "../../internal/migrate/mod.ts";

const boot = createLogger({ svc: "migrate" });
try {
  const cfg = readMigrateConfig(process.env);
  await runMigrate(cfg, createLogger({ svc: "migrate" }, { level: cfg.common.logLevel }));
  process.exit(0);
} catch (err) {
  boot.error("migration failed", { err });
  process.exit(1);
}

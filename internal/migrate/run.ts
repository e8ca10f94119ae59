import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { sleep } from "../bus/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { MigrateConfig } from "./config.ts";
import { migrate, type Step } from "./migrate.ts";

/**
 * A refused login or a missing permission will not pass by waiting; anything else (NATS still
 * starting) may.
 */
function isFinal(err: unknown): boolean {
  return /authori[sz]ation|authentication|permissions? violation/i.test(String(err));
}

/**
 * Connects once NATS answers (compose and k8s may start the migration beside the server), up to
 * `waitMs`.
 */
async function connectWhenUp(cfg: MigrateConfig, log: Logger): Promise<NatsConnection> {
  const deadline = Date.now() + cfg.waitMs;
  for (let attempt = 0;; attempt++) {
    try {
      return await connect({
        servers: cfg.common.nats.servers,
        ...cfg.common.nats.auth,
        name: "jetmesh-migrate",
        timeout: 5000,
      });
    } catch (err) {
      if (isFinal(err)) {
        throw new JetmeshError(
          "unauthorized",
          `NATS refused the migration's user (it runs as the admin user: NATS_USER=admin, NATS_PASSWORD=…): ${
            String(err)
          }`,
          { cause: err },
        );
      }
      if (Date.now() >= deadline) {
        throw new JetmeshError(
          "unavailable",
          `NATS at ${cfg.common.nats.servers.join(",")} did not answer within ${cfg.waitMs} ms: ${
            String(err)
          }`,
          { cause: err },
        );
      }
      if (attempt === 0) log.info("waiting for NATS", { servers: cfg.common.nats.servers, err });
      await sleep(500);
    }
  }
}

/**
 * `make migrate` / cmd/migrate: connect as admin, create or update the streams and buckets,
 * disconnect.
 */
export async function runMigrate(cfg: MigrateConfig, log: Logger): Promise<Step[]> {
  const nc = await connectWhenUp(cfg, log);
  try {
    const jsm = await jetstreamManager(nc);
    const steps = await migrate({
      jsm,
      js: jetstream(nc),
      streams: cfg.streams,
      buckets: cfg.buckets,
      log,
      retryMs: cfg.waitMs,
    });
    log.info("migration done", {
      server: nc.getServer(),
      created: steps.filter((s) => s.action === "created").length,
      updated: steps.filter((s) => s.action === "updated").length,
      unchanged: steps.filter((s) => s.action === "unchanged").length,
      deleted: steps.filter((s) => s.action === "deleted").length,
    });
    return steps;
  } catch (err) {
    if (isFinal(err)) {
      throw new JetmeshError(
        "unauthorized",
        `the migration's NATS user may not manage streams (run it as the admin user): ${
          String(err)
        }`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    await nc.close();
  }
}

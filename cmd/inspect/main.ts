/**
 * `make inspect`: streams, consumer lag and DLQ of a running jetmesh, read
 * with the JetStream API (no `nats` CLI needed). Read-only. Uses the same
 * NATS_URL / NATS_USER / NATS_PASSWORD / NATS_TOKEN as the services (the
 * `admin` user of infra/nats/users.conf when the server has users).
 *
 *   node --import tsx cmd/inspect/main.ts [--json]
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { EnvReader, readCommon } from "../../internal/config/mod.ts";
import { formatReport, inspect } from "../../internal/inspect/mod.ts";
import { exitOnStartFailure } from "../../internal/lifecycle/mod.ts";
import { createLogger } from "../../internal/log/mod.ts";

// Connection notices would mix with the report on stdout.
const log = createLogger({ svc: "inspect" }, { level: "error" });
try {
  const r = new EnvReader(process.env);
  const common = readCommon(r);
  r.done();
  // One attempt, unlike the services: a one-shot tool should say at once that NATS is not there.
  const nc = await connect({
    servers: common.nats.servers,
    ...common.nats.auth,
    name: "jetmesh-inspect",
  });
  const report = await inspect(await jetstreamManager(nc), nc.getServer());
  console.log(
    process.argv.includes("--json") ? JSON.stringify(report, null, 2) : formatReport(report),
  );
  await nc.close();
} catch (err) {
  exitOnStartFailure(log, err);
}

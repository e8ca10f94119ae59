/**
 * A stack for the processing examples (examples/iot, examples/transactions): nats-server, the
 * test database, ingest, persist and notify from the launcher, and route in as many replicas
 * as asked, each started and killed on its own, with the example's namespaces loaded.
 */
import { writeFileSync } from "node:fs";
import type { Test } from "tap";
import { CATALOG } from "../../devkit/catalog.ts";
import { stackEnv } from "../../devkit/in-process-stack.ts";
import { ServiceLauncher } from "../../devkit/launcher.ts";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { migrateAsAdmin, natsUsers } from "../../devkit/nats-users.ts";
import { restartablePorts } from "../../devkit/ports.ts";
import { type ServiceProcess, spawnService } from "../../devkit/service-process.ts";
import { testDatabase } from "../../devkit/test-db.ts";
import { jwtAuth, mintToken, type TokenOptions } from "../../devkit/tokens.ts";

export interface ExampleStack {
  ingestHttp: string;
  notifyWs: string;
  token: string;
  /** Another token of the stack's issuer, e.g. for a subscriber with grants or claims. */
  mint(sub: string, o?: TokenOptions): Promise<string>;
  replicas: Array<ServiceProcess | undefined>;
  startReplica(i: number): Promise<void>;
  killReplica(i: number): Promise<void>;
  history: ServiceProcess[];
}

export async function startExampleStack(
  t: Test,
  o: { namespaces: string; routeReplicas: number; logName: string },
): Promise<ExampleStack> {
  const routeReplicas = o.routeReplicas;
  const users = natsUsers();
  const nats = await startNatsServer(users.server);
  t.teardown(() => nats.stop());
  const db = await testDatabase();
  t.teardown(() => db.drop());
  const [ingest, notify, persist, ...routePorts] = await restartablePorts(3 + routeReplicas);
  const auth = jwtAuth();
  const env = {
    ...stackEnv(nats.url, db, { ingest, route: routePorts[0], persist, notify }),
    ...auth.env,
    JETMESH_NAMESPACES: o.namespaces,
    // A short ack wait makes the pin timeout (ack wait + 5 s), and so each failover, short.
    ROUTE_ACK_WAIT: "1s",
    // Checkpoints within the run, so a take-over replays from one rather than from the start.
    ROUTE_CHECKPOINT_INTERVAL: "2s",
  };
  await migrateAsAdmin([nats.url], env, users.admin);
  const services = new ServiceLauncher({ env, own: (name) => users.serviceEnv(name) });
  t.teardown(() => services.stopAll());
  // What every process logged, when something failed (route's replicas are not the launcher's).
  t.teardown(() => {
    if (t.passing()) return;
    services.dumpLogs(`.tap/${o.logName}-services.log`);
    const lines = history.flatMap((p) => [
      `=== route pid ${p.child.pid}`,
      ...p.logs.map((l) => JSON.stringify(l)),
    ]);
    writeFileSync(`.tap/${o.logName}-route.log`, `${lines.join("\n")}\n`);
  });
  for (const name of ["ingest", "persist", "notify"] as const) await services.start(name);
  const replicas: Array<ServiceProcess | undefined> = [];
  const history: ServiceProcess[] = [];
  const stack: ExampleStack = {
    ingestHttp: `http://127.0.0.1:${ingest}`,
    notifyWs: `ws://127.0.0.1:${notify}/v1/ws`,
    token: await mintToken(auth.secret, "loadgen"),
    mint: (sub, o) => mintToken(auth.secret, sub, o),
    replicas,
    history,
    async startReplica(i) {
      const proc = spawnService("route", {
        ...services.envOf("route"),
        ROUTE_PORT: String(routePorts[i]),
      });
      replicas[i] = proc;
      history.push(proc);
      await proc.waitForLog(CATALOG.route.ready, 60_000);
    },
    async killReplica(i) {
      await replicas[i]?.stop("SIGKILL");
      replicas[i] = undefined;
    },
  };
  t.teardown(async () => {
    for (let i = 0; i < routeReplicas; i++) await stack.killReplica(i);
  });
  for (let i = 0; i < routeReplicas; i++) await stack.startReplica(i);
  return stack;
}

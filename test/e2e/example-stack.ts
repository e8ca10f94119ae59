/**
 * A stack for the processing examples (examples/iot, examples/transactions): nats-server, the
 * test database, ingest, persist and notify from the launcher, and route in as many replicas
 * as asked, each started and killed on its own, with the example's namespaces loaded.
 */
import type { Test } from "tap";
import { stackEnv } from "../../devkit/in-process-stack.ts";
import { ServiceLauncher } from "../../devkit/launcher.ts";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { migrateAsAdmin, natsUsers } from "../../devkit/nats-users.ts";
import { restartablePorts } from "../../devkit/ports.ts";
import { RouteReplicas } from "../../devkit/route-replicas.ts";
import { testDatabase } from "../../devkit/test-db.ts";
import { jwtAuth, mintToken, type TokenOptions } from "../../devkit/tokens.ts";

export interface ExampleStack {
  ingestHttp: string;
  notifyWs: string;
  token: string;
  routes: RouteReplicas;
  /** Another token of the stack's issuer, e.g. for a subscriber with grants or claims. */
  mint(sub: string, o?: TokenOptions): Promise<string>;
}

export async function startExampleStack(
  t: Test,
  o: { namespaces: string; routeReplicas: number; logName: string },
): Promise<ExampleStack> {
  const users = natsUsers();
  const nats = await startNatsServer(users.server);
  t.teardown(() => nats.stop());
  const db = await testDatabase();
  t.teardown(() => db.drop());
  const [ingest, notify, persist, ...routePorts] = await restartablePorts(3 + o.routeReplicas);
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
  const routes = new RouteReplicas(services.envOf("route"), routePorts);
  t.teardown(() => routes.stopAll());
  // What every process logged, when something failed.
  t.teardown(() => {
    if (t.passing()) return;
    services.dumpLogs(`.tap/${o.logName}-services.log`);
    routes.dumpLogs(`.tap/${o.logName}-route.log`);
  });
  for (const name of ["ingest", "persist", "notify"] as const) await services.start(name);
  await routes.startAll();
  return {
    ingestHttp: `http://127.0.0.1:${ingest}`,
    notifyWs: `ws://127.0.0.1:${notify}/v1/ws`,
    token: await mintToken(auth.secret, "loadgen"),
    routes,
    mint: (sub, o) => mintToken(auth.secret, sub, o),
  };
}

import { type NatsServerHandle, startNatsServer } from "./nats-server.ts";
import { migrateAsAdmin, type NatsCredentials, natsUsers } from "./nats-users.ts";
import { type TestDatabase, testDatabase } from "./test-db.ts";
import { restartablePorts } from "./ports.ts";
import type { ServiceName } from "./catalog.ts";
import { ServiceLauncher } from "./launcher.ts";
import { stackEnv } from "./in-process-stack.ts";

export interface ProcessStack {
  nats: NatsServerHandle;
  /** The admin user of `nats`, for tests that use the JetStream API. */
  admin: NatsCredentials;
  db: TestDatabase;
  ingestWs: string;
  notifyWs: string;
  notifyHttp: string;
  /** Sends a signal (default SIGKILL: a crash) and waits for the process to exit. */
  kill(name: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a service again on its fixed port and waits until it serves. */
  start(name: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The four services as separate Node processes on fixed ports, on a
 * nats-server and a schema of their own: what a test needs to kill a service
 * with SIGKILL and bring it back where clients expect it. As in production:
 * the server has the users of users.conf, the migration runs as admin, each
 * service runs as its own user.
 */
export async function startProcessStack(
  extraEnv: Record<string, string> = {},
): Promise<ProcessStack> {
  const users = natsUsers();
  const nats = await startNatsServer(users.server);
  const db = await testDatabase();
  const [ingest, notify, route, persist] = await restartablePorts(4);
  const env = { ...stackEnv(nats.url, db, { ingest, route, persist, notify }), ...extraEnv };
  const services = new ServiceLauncher({
    env,
    own: (name) => users.serviceEnv(name),
    retryDelayMs: (attempt) => 300 * attempt,
  });
  try {
    await migrateAsAdmin([nats.url], env, users.admin);
    await services.startAll();
  } catch (err) {
    await services.stopAll();
    await nats.stop();
    await db.drop();
    throw err;
  }
  return {
    nats,
    admin: users.admin,
    db,
    ingestWs: `ws://127.0.0.1:${ingest}/v1/ws`,
    notifyWs: `ws://127.0.0.1:${notify}/v1/ws`,
    notifyHttp: `http://127.0.0.1:${notify}`,
    async kill(name, signal = "SIGKILL") {
      await services.stop(name, signal);
    },
    start: (name) => services.start(name),
    async stop() {
      await services.stopAll();
      await nats.stop();
      await db.drop();
    },
  };
}

import { type NatsServerHandle, startNatsServer } from "../helpers/nats-server.ts";
import { migrateAsAdmin, type NatsCredentials, natsUsers } from "../helpers/nats-users.ts";
import { type TestDatabase, testDatabase } from "../helpers/db.ts";
import { restartablePorts } from "../helpers/ports.ts";
import { type ServiceProcess, spawnService } from "./processes.ts";
import { type ServiceName, stackEnv } from "./stack.ts";

const ORDER: ServiceName[] = ["ingest", "route", "persist", "notify"];

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
  const running = new Map<ServiceName, ServiceProcess>();
  const start = async (name: ServiceName) => {
    // A port just released by a killed process can take a moment to bind again.
    for (let attempt = 1;; attempt++) {
      const p = spawnService(name, { ...env, ...users.serviceEnv(name) });
      running.set(name, p);
      try {
        await p.waitForLog(/listening|running/, 60_000);
        return;
      } catch (err) {
        if (attempt >= 5) throw err;
        await p.stop("SIGKILL");
        await new Promise((r) => setTimeout(r, 300 * attempt));
      }
    }
  };
  const stopAll = async () => {
    await Promise.all([...running.values()].map((p) => p.stop("SIGTERM")));
    running.clear();
  };
  try {
    await migrateAsAdmin([nats.url], env, users.admin);
    await Promise.all(ORDER.map(start));
  } catch (err) {
    await stopAll();
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
      await running.get(name)?.stop(signal);
    },
    start,
    async stop() {
      await stopAll();
      await nats.stop();
      await db.drop();
    },
  };
}

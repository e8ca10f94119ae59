/**
 * run-local's NATS: NATS_URL when set (an external server: no server or
 * users here), else a nats-server with JetStream and the users of
 * infra/nats/users.conf, data in <dataDir>/nats.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { findTool, toolMissingReason } from "../../infra/tools/tools.ts";
import { loopbackArgs } from "../nats-server.ts";
import { pickPort } from "../ports.ts";
import { color, say } from "./console.ts";
import { type Child, type LocalContext, spawnChild, StartFailure } from "./context.ts";
import { stopLeftover } from "./leftovers.ts";
import { localPasswords, type Passwords, serverEnv, writeServerConfig } from "./nats-access.ts";
import { waitForHttp } from "./ready.ts";

/** nats-server's own defaults, kept when free so the nats CLI and tools find it as usual. */
const NATS_PORT = 4222;
const NATS_MONITOR_PORT = 8222;

export interface LocalNats {
  url: string;
  /** The server run-local started; undefined with an external NATS_URL. */
  child?: Child;
  /** Its users' passwords; undefined with an external NATS_URL. */
  passwords?: Passwords;
}

export async function startNats(ctx: LocalContext): Promise<LocalNats> {
  const { env, smoke, dataDir } = ctx;
  if (env.NATS_URL) {
    say(
      `using NATS_URL=${env.NATS_URL}: an external server, so no nats-server, users or nats CLI context are set up here;`,
    );
    say(
      "  the migration and the services connect with NATS_USER/NATS_PASSWORD (or NATS_TOKEN) as set",
      color.dim,
    );
    return { url: env.NATS_URL };
  }
  const bin = findTool("nats-server");
  if (!bin) throw new StartFailure(toolMissingReason("nats-server"));
  await stopLeftover(ctx.pidDir, "nats", "nats-server", ctx.root);
  const store = join(dataDir, "nats");
  mkdirSync(store, { recursive: true });
  const { port, moved } = await pickPort(smoke ? 0 : NATS_PORT);
  if (moved && !smoke) {
    say(
      `port ${NATS_PORT} is taken by another process (another nats-server?): using ${port} instead`,
      color.yellow,
    );
  }
  const monitor = await pickPort(smoke ? 0 : NATS_MONITOR_PORT);
  const verbose = env.LOG_LEVEL === "debug";
  const kept = join(dataDir, "nats-passwords.json");
  const { passwords, generated } = localPasswords(kept, env);
  if (generated) {
    say(
      `NATS users: passwords generated into ${
        ctx.shownDir(kept)
      } (mode 0600); JETMESH_NATS_<USER>_PASSWORD overrides`,
    );
  }
  const conf = writeServerConfig(join(dataDir, "nats-conf"), ctx.root);
  const child = ctx.watch(
    spawnChild(ctx, {
      name: "nats",
      command: bin,
      args: [
        "-c",
        conf,
        ...loopbackArgs(port, monitor.port, store),
        "--server_name",
        "jetmesh-local",
      ],
      env: { ...env, ...serverEnv(passwords) },
      paint: color.yellow,
      // nats-server is chatty at start; show warnings and errors unless LOG_LEVEL=debug. Its
      // plaintext-password warning is by design here: users.conf takes them from the environment.
      filter: (
        line,
      ) => (verbose ||
          (/\[(WRN|ERR|FTL)\]/.test(line) && !/Plaintext passwords detected/.test(line))
        ? line
        : undefined),
    }),
  );
  const ok = await waitForHttp(
    `http://127.0.0.1:${monitor.port}/healthz?js-enabled-only=true`,
    30_000,
    () => !child.exited,
  );
  if (!ok) throw new StartFailure("nats-server did not become ready", child.tail);
  const url = `nats://127.0.0.1:${port}`;
  say(
    `nats-server ${url} (JetStream, data in ${
      ctx.shownDir(store)
    }, monitor http://127.0.0.1:${monitor.port}, users of infra/nats/users.conf)`,
  );
  return { url, child, passwords };
}

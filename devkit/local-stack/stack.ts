/**
 * The whole platform on one machine, as `make run-local` and `make smoke` run
 * it: nats-server (or NATS_URL), the migration as admin, PGlite (or
 * DATABASE_URL), Jaeger, JWT auth on the edges, and the services of the
 * catalog. infra/local/run.ts is the command line around it; it decides when
 * to stop and how to exit, this class only starts and stops things and says
 * when one of them died on its own.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findTool, toolMissingReason } from "../../infra/tools/tools.ts";
import { CATALOG, hasOwnOpsPort, type ServiceName, SERVICES } from "../catalog.ts";
import { instanceLabel } from "../launcher.ts";
import { color, say } from "./console.ts";
import { type Child, type LocalContext, spawnChild, StartFailure } from "./context.ts";
import { edgeAuth, printedToken } from "./dev-auth.ts";
import { otelConfigured, startJaeger } from "./jaeger.ts";
import { adminAccess, migrationChild, type Passwords } from "./nats-access.ts";
import { startNats } from "./nats.ts";
import { startDatabase } from "./pglite.ts";
import {
  type LocalServices,
  opsPortOf,
  portOf,
  prepareServices,
  serviceLauncher,
} from "./services.ts";
import { summaryLines } from "./summary.ts";
import { portsOf } from "./replicas.ts";
import { exampleOf, serveExamplePage } from "./example-page.ts";

export { StartFailure };

export interface LocalStackOptions {
  root: string;
  /** Free ports and a temporary data dir; `smokeCheck` then runs infra/local/smoke.ts. */
  smoke: boolean;
  env: NodeJS.ProcessEnv;
  /** How long a child has between SIGTERM and SIGKILL. */
  graceMs: number;
  /** A child exited while the stack was not stopping. */
  onUnexpectedExit(
    child: Child,
    exit: { code: number | null; signal: NodeJS.Signals | null },
  ): void;
}

/** What is up once `start` resolves. */
export interface LocalStackInfo {
  healthy: boolean;
  ingestPort: number;
  notifyPort: number;
  jaegerUiPort?: number;
  /** What to print outside --smoke. */
  lines: string[];
}

export class LocalStack {
  readonly dataDir: string;
  readonly #o: LocalStackOptions;
  readonly #ctx: LocalContext;
  readonly #children: Child[] = [];
  #services: LocalServices | undefined;
  /** `make run-local EXAMPLE=<name>`: the example page's static server. */
  #examplePage: { close(): Promise<void> } | undefined;
  /** Stopped after the services, in this order: Jaeger gets their last spans. */
  readonly #backing: { jaeger?: Child; database?: Child; nats?: Child } = {};
  #stopping = false;

  constructor(o: LocalStackOptions) {
    this.#o = o;
    this.dataDir = o.smoke ? mkdtempSync(join(tmpdir(), "jm-smoke-")) : join(o.root, ".data");
    const root = o.root;
    this.#ctx = {
      root,
      dataDir: this.dataDir,
      pidDir: join(this.dataDir, "run-local"),
      env: { ...o.env },
      smoke: o.smoke,
      replicas: 1,
      replicaPorts: new Map(),
      rawLogs: o.env.RUN_LOCAL_LOG === "json",
      shownDir: (d) => (d.startsWith(`${root}/`) ? d.slice(root.length + 1) : d),
      watch: (c) => this.#watch(c),
    };
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** What must hold before anything starts; returns why it does not, or undefined. */
  async prepare(): Promise<string | undefined> {
    mkdirSync(this.#ctx.pidDir, { recursive: true });
    // A missing tool is the first thing to say: it is what a fresh machine lacks, and
    // the ports a running stack holds would hide it.
    if (!this.#ctx.env.NATS_URL && !findTool("nats-server")) {
      return toolMissingReason("nats-server");
    }
    return await prepareServices(this.#ctx);
  }

  /**
   * Starts everything and waits for the services' /healthz. Throws StartFailure when a part
   * does not come up; resolves undefined when `stop` was called meanwhile.
   */
  async start(): Promise<LocalStackInfo | undefined> {
    const ctx = this.#ctx;
    const nats = await startNats(ctx);
    this.#backing.nats = nats.child;
    await this.#migrate(nats.url, nats.passwords);
    if (this.#stopping) return undefined;
    const db = await startDatabase(ctx);
    this.#backing.database = db.child;
    const tracing = await startJaeger(ctx);
    this.#backing.jaeger = tracing.child;
    const ingestPort = portOf(ctx.env, CATALOG.ingest);
    const notifyPort = portOf(ctx.env, CATALOG.notify);
    // Every notify replica serves the chat page, which publishes to ingest.
    const auth = edgeAuth(ctx, {
      ingest: ingestPort,
      notify: portsOf(ctx, CATALOG.notify, CATALOG.notify.port),
    });
    const embeddedDatabase = db.child !== undefined;
    const services = serviceLauncher(ctx, {
      natsUrl: nats.url,
      passwords: nats.passwords,
      databaseUrl: db.url,
      embeddedDatabase,
      otlp: tracing.otlp,
      auth: auth?.env,
    }, () => this.#stopping);
    this.#services = services;
    try {
      await services.launcher.startAll();
    } catch (err) {
      if (this.#stopping) return undefined;
      throw new StartFailure(err instanceof Error ? err.message : String(err));
    }
    if (this.#stopping) return undefined;
    const healthy = services.healthy();
    const token = auth ? await printedToken(auth.secret, "alice") : undefined;
    const access = nats.passwords
      ? adminAccess({
        natsUrl: nats.url,
        passwords: nats.passwords,
        dataDir: this.dataDir,
        smoke: ctx.smoke,
        shownDir: ctx.shownDir,
        databaseUrl: embeddedDatabase ? db.url : undefined,
        token,
      })
      : [];
    const example = exampleOf(ctx.env);
    if (example) {
      this.#examplePage = await serveExamplePage(ctx.root, example.name, example.port);
    }
    const lines = summaryLines({
      healthy,
      ingestPort,
      notifyPort,
      opsPortOf: (name) => opsPortOf(ctx.env, CATALOG[name as ServiceName]),
      natsUrl: nats.url,
      natsUsers: nats.passwords !== undefined,
      access,
      databaseUrl: db.url,
      embeddedDatabase,
      traces: tracing.uiPort
        ? `Jaeger UI http://localhost:${tracing.uiPort}`
        : otelConfigured(ctx.env)
        ? "as the OTEL_* variables say"
        : "off",
      token: token ? { value: token, kept: access.length > 0 && !ctx.smoke } : undefined,
      replicas: SERVICES.map((svc) => ({
        name: svc.name,
        ports: portsOf(ctx, svc, svc.port),
        ops: hasOwnOpsPort(svc) ? portsOf(ctx, svc, svc.ops) : [],
      })),
      example: example && {
        name: example.name,
        url: `http://localhost:${example.port}/?notify=ws://localhost:${notifyPort}/v1/ws`,
      },
    });
    return {
      healthy: healthy.every(Boolean),
      ingestPort,
      notifyPort,
      jaegerUiPort: tracing.uiPort,
      lines,
    };
  }

  /** infra/local/smoke.ts against the running stack; resolves with its exit. */
  smokeCheck(
    info: LocalStackInfo,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const { root, env } = this.#ctx;
    const check = spawnChild(this.#ctx, {
      name: "smoke",
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        join(root, "infra/local/smoke.ts"),
        `http://127.0.0.1:${info.ingestPort}`,
        `http://127.0.0.1:${info.notifyPort}`,
      ],
      env: info.jaegerUiPort
        ? { ...env, SMOKE_JAEGER_URL: `http://127.0.0.1:${info.jaegerUiPort}` }
        : env,
      paint: color.bold,
    });
    return check.done;
  }

  /**
   * The services (SIGTERM, SIGKILL after the grace time), then Jaeger, PGlite and nats-server;
   * a smoke run's data goes too.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const grace = this.#o.graceMs;
    const killed = (name: string) =>
      say(`${name} did not stop within ${grace} ms: killed`, color.yellow);
    await this.#examplePage?.close();
    for (const r of (await this.#services?.launcher.stopAll(grace)) ?? []) {
      if (r.killed) killed(instanceLabel(r));
    }
    const { jaeger, database, nats } = this.#backing;
    for (const c of [jaeger, database, nats]) {
      if (c && (await c.stop("SIGTERM", grace)).killed) killed(c.name);
    }
    if (this.#ctx.smoke) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** SIGKILL to every child at once (a second Ctrl-C). */
  killAll(): void {
    for (const c of this.#children) c.signal("SIGKILL");
  }

  #watch(c: Child): Child {
    this.#children.push(c);
    void c.done.then((exit) => {
      if (!this.#stopping) this.#o.onUnexpectedExit(c, exit);
    });
    return c;
  }

  /**
   * The migration as admin (the local server's, or whatever NATS_USER an external NATS_URL
   * came with), before any service: they may not create streams themselves.
   */
  async #migrate(natsUrl: string, passwords: Passwords | undefined): Promise<void> {
    const child = migrationChild(this.#ctx, natsUrl, passwords);
    const { code } = await child.done;
    if (code !== 0) {
      throw new StartFailure(
        "the migration (cmd/migrate) failed: the services would find no streams",
        child.tail,
      );
    }
  }
}

/**
 * run-local's tracing: the pinned Jaeger (or JAEGER_BIN) with
 * infra/local/jaeger.yaml, unless RUN_LOCAL_JAEGER=0 or an OTEL_* exporter
 * variable says where traces go instead.
 */
import { join } from "node:path";
import { findTool, toolMissingReason } from "../../infra/tools/tools.ts";
import { pickPort } from "../ports.ts";
import { color, say } from "./console.ts";
import { type Child, type LocalContext, spawnChild, StartFailure } from "./context.ts";
import { stopLeftover } from "./leftovers.ts";
import { waitForHttp } from "./ready.ts";

/** Jaeger's own default ports: UI and query API, OTLP/HTTP. */
const JAEGER_UI_PORT = 16686;
const JAEGER_OTLP_PORT = 4318;
export const OTEL_VARIABLES = [
  "OTEL_EXPORTER",
  "OTEL_TRACES_EXPORTER",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

export interface LocalTracing {
  /** The OTLP endpoint for the services; undefined when run-local started no Jaeger. */
  otlp?: string;
  uiPort?: number;
  child?: Child;
}

export function otelConfigured(env: NodeJS.ProcessEnv): boolean {
  return OTEL_VARIABLES.some((v) => env[v]);
}

export async function startJaeger(ctx: LocalContext): Promise<LocalTracing> {
  const { env, smoke } = ctx;
  if (otelConfigured(env)) {
    say("traces: exported as the OTEL_* variables say (no local Jaeger started)");
    return {};
  }
  if (env.RUN_LOCAL_JAEGER === "0") {
    say("traces: off (RUN_LOCAL_JAEGER=0)", color.dim);
    return {};
  }
  const bin = findTool("jaeger");
  if (!bin) {
    // Tracing is optional: the stack runs without it, but says how to get it.
    say(
      `traces: off, no Jaeger: ${
        toolMissingReason("jaeger")
      }\n  or RUN_LOCAL_JAEGER=0 to run without it`,
      color.yellow,
    );
    return {};
  }
  const config = join(ctx.root, "infra/local/jaeger.yaml");
  await stopLeftover(ctx.pidDir, "jaeger", config, ctx.root);
  const jaegerPort = async (name: string, preferred: number): Promise<number> => {
    const wanted = smoke && !env[name] ? 0 : Number(env[name] || preferred);
    const { port, moved } = await pickPort(wanted);
    if (moved) {
      say(
        `port ${wanted} (${name}) is taken (another Jaeger?): Jaeger uses ${port} instead`,
        color.yellow,
      );
    }
    return port;
  };
  const ui = await jaegerPort("JAEGER_UI_PORT", JAEGER_UI_PORT);
  const otlpPort = await jaegerPort("JAEGER_OTLP_PORT", JAEGER_OTLP_PORT);
  const verbose = env.LOG_LEVEL === "debug";
  const child = ctx.watch(
    spawnChild(ctx, {
      name: "jaeger",
      command: bin,
      args: ["--config", config],
      // jaeger.yaml reads its ports from these.
      env: {
        ...env,
        JAEGER_UI_PORT: String(ui),
        JAEGER_OTLP_PORT: String(otlpPort),
        JAEGER_LISTEN_HOST: env.JAEGER_LISTEN_HOST || "127.0.0.1",
      },
      paint: color.gray,
      filter: (line) => {
        // A go-built Jaeger has no UI assets (README, Tracing): say so in a line, not
        // its whole log record.
        if (line.includes("ui assets not embedded")) {
          return env.JAEGER_UI_ASSETS
            ? undefined
            : "no UI assets in this build: the UI page is a placeholder (the query API works; JAEGER_UI_ASSETS=<dir> serves a built Jaeger UI)";
        }
        // Jaeger logs every start-up step; show problems only unless LOG_LEVEL=debug.
        return verbose || /\t(warn|error|fatal|panic)\t|"level":"(warn|error|fatal)"/i.test(line)
          ? line
          : undefined;
      },
    }),
  );
  // The query API, not the UI page: the tests and a trace search need it.
  const ok = await waitForHttp(`http://127.0.0.1:${ui}/api/services`, 30_000, () => !child.exited);
  if (!ok) {
    throw new StartFailure(`jaeger (${bin}) did not serve its query API on port ${ui}`, child.tail);
  }
  const otlp = `http://127.0.0.1:${otlpPort}`;
  say(
    `Jaeger UI http://localhost:${ui} (${ctx.shownDir(bin)}; the services send traces to ${otlp})`,
  );
  return { otlp, uiPort: ui, child };
}

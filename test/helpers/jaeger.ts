/**
 * A real Jaeger for tests: the pinned .tools/bin/jaeger (or JAEGER_BIN) with
 * the config `make run-local` uses (infra/local/jaeger.yaml), on free loopback
 * ports, and a client for its HTTP query API — the JSON API Jaeger's UI reads.
 *
 *   const jaeger = await startJaeger();        // throws ToolMissingError when there is none
 *   // services with OTEL_EXPORTER_OTLP_ENDPOINT=jaeger.otlpUrl
 *   const traces = await jaeger.findTraces({ service: "jetmesh-ingest", tags: {
 * "jetmesh.event.id": id } });
 *   await jaeger.stop();
 *
 * JAEGER_LOG=1 copies Jaeger's own log lines to stderr.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT, toolPath } from "../../infra/tools/tools.ts";
import { freePorts } from "../../devkit/ports.ts";

export const JAEGER_CONFIG = join(ROOT, "infra/local/jaeger.yaml");

/** A span as Jaeger's query API returns it (/api/traces, the v1 JSON model). */
export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  /** CHILD_OF the parent; empty for a root span. */
  references: { refType: "CHILD_OF" | "FOLLOWS_FROM"; traceID: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: { key: string; type: string; value: string | number | boolean }[];
  processID: string;
  warnings: string[] | null;
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
  warnings: string[] | null;
}

export interface TraceSearch {
  service: string;
  operation?: string;
  /** Span attributes that must all match on one span of the trace. */
  tags?: Record<string, string>;
  limit?: number;
}

export interface JaegerHandle {
  /** http://127.0.0.1:PORT: the UI and the query API. */
  readonly uiUrl: string;
  /** Base URL for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces). */
  readonly otlpUrl: string;
  /** GET a query API path such as "/api/services" and parse the JSON. */
  api<T>(path: string): Promise<T>;
  /** GET /api/traces: the traces with a span that matches. */
  findTraces(q: TraceSearch): Promise<JaegerTrace[]>;
  logTail(): string;
  stop(): Promise<void>;
}

/** The URL of a trace search in the query API (the UI's search page asks the same). */
export function traceSearchPath(q: TraceSearch): string {
  const params = new URLSearchParams({
    service: q.service,
    limit: String(q.limit ?? 20),
    lookback: "1h",
  });
  if (q.operation) params.set("operation", q.operation);
  if (q.tags) params.set("tags", JSON.stringify(q.tags));
  return `/api/traces?${params}`;
}

const live = new Set<ChildProcess>();
// A test that ends without stop() must not leave Jaeger running.
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

async function spawnJaeger(bin: string, ui: number, otlp: number): Promise<JaegerHandle> {
  const log: string[] = [];
  const proc = spawn(bin, ["--config", JAEGER_CONFIG], {
    env: {
      ...process.env,
      JAEGER_UI_PORT: String(ui),
      JAEGER_OTLP_PORT: String(otlp),
      JAEGER_LISTEN_HOST: "127.0.0.1",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(proc);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    proc.once("error", (err) => log.push(String(err)));
    proc.once("close", () => {
      exited = true;
      live.delete(proc);
      resolve();
    });
  });
  const remember = (c: Buffer) => {
    for (const line of c.toString("utf8").split("\n")) {
      if (line === "") continue;
      if (process.env.JAEGER_LOG === "1") process.stderr.write(`[jaeger] ${line}\n`);
      log.push(line);
    }
    if (log.length > 100) log.splice(0, log.length - 100);
  };
  proc.stdout.on("data", remember);
  proc.stderr.on("data", remember);

  const uiUrl = `http://127.0.0.1:${ui}`;
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${uiUrl}${path}`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`jaeger: GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const handle: JaegerHandle = {
    uiUrl,
    otlpUrl: `http://127.0.0.1:${otlp}`,
    api,
    findTraces: async (q) =>
      (await api<{ data: JaegerTrace[] | null }>(traceSearchPath(q))).data ?? [],
    logTail: () => log.join("\n"),
    async stop() {
      if (exited) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };

  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`jaeger exited before serving its query API\n${handle.logTail()}`);
    try {
      await api("/api/services");
      return handle;
    } catch {
      await sleep(100);
    }
  }
  await handle.stop();
  throw new Error(`jaeger: query API not up after 30 s\n${handle.logTail()}`);
}

/**
 * Starts Jaeger on two free ports; throws ToolMissingError (saying how to get it) when none is
 * installed.
 */
export async function startJaeger(): Promise<JaegerHandle> {
  const bin = toolPath("jaeger");
  // Free ports can be taken between lookup and bind: retry with new ones.
  for (let attempt = 1;; attempt++) {
    const [ui, otlp] = await freePorts(2);
    try {
      return await spawnJaeger(bin, ui, otlp);
    } catch (err) {
      if (attempt < 5 && /address already in use/i.test(String(err))) continue;
      throw err;
    }
  }
}

/**
 * Waits until `pred` holds for the traces a search returns; returns them (the last ones seen on
 * timeout).
 */
export async function waitForTraces(
  jaeger: JaegerHandle,
  q: TraceSearch,
  pred: (traces: JaegerTrace[]) => boolean,
  timeoutMs = 20_000,
): Promise<JaegerTrace[]> {
  const deadline = Date.now() + timeoutMs;
  let traces: JaegerTrace[] = [];
  while (Date.now() < deadline) {
    traces = await jaeger.findTraces(q);
    if (pred(traces)) return traces;
    await sleep(200);
  }
  return traces;
}

import type { Registry } from "prom-client";
import { errorMessage } from "../errors/mod.ts";
import { type HttpHandler, type RunningServer, startServer } from "../wsserver/mod.ts";
import { healthz, jsonResponse } from "./respond.ts";

/** One dependency the service needs to do its work; throws when it is not there. */
export type ReadinessCheck = () => Promise<void>;

/** A dependency that does not answer within this counts as down: a probe must not hang. */
const CHECK_TIMEOUT_MS = 2000;

function withTimeout(check: ReadinessCheck): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
      CHECK_TIMEOUT_MS,
    );
  });
  return Promise.race([check(), timeout]).finally(() => clearTimeout(timer));
}

/**
 * Readiness: 200 when every check passes, else 503; the body names each check
 * and why it failed. Unlike /healthz (the process runs), a failing /readyz
 * means "send no traffic here now", not "restart me".
 */
function readyz(service: string, checks: Record<string, ReadinessCheck>): HttpHandler {
  return async () => {
    const names = Object.keys(checks);
    const results = await Promise.allSettled(names.map((n) => withTimeout(checks[n])));
    const detail: Record<string, string> = {};
    results.forEach((
      r,
      i,
    ) => (detail[names[i]] = r.status === "fulfilled" ? "ok" : errorMessage(r.reason)));
    const ready = results.every((r) => r.status === "fulfilled");
    return jsonResponse(ready ? 200 : 503, {
      status: ready ? "ready" : "not_ready",
      service,
      checks: detail,
    });
  };
}

/** Prometheus text exposition of the service's registry. */
function metricsHandler(registry: Registry): HttpHandler {
  return async () => ({
    status: 200,
    headers: { "content-type": registry.contentType },
    body: await registry.metrics(),
  });
}

/** /healthz, /readyz and /metrics: what every service serves next to its own routes. */
export function opsRoutes(
  service: string,
  registry: Registry,
  checks: Record<string, ReadinessCheck>,
): Record<string, HttpHandler> {
  return {
    "GET /healthz": () => healthz(service),
    "GET /readyz": readyz(service, checks),
    "GET /metrics": metricsHandler(registry),
  };
}

/**
 * The operations listener: the only one of route and persist, the second one
 * of ingest and notify (off their public port). Same server type as the edges
 * so one code path runs everywhere.
 */
export async function startOpsServer(
  listen: { host: string; port: number },
  routes: Record<string, HttpHandler>,
): Promise<RunningServer> {
  return await startServer({
    host: listen.host,
    port: listen.port,
    maxBodyBytes: 1024,
    maxFrameBytes: 1024,
    idleTimeoutSec: 0,
    maxBackpressureBytes: 1024,
    routes,
  });
}

import { errorCode, errorMessage, httpStatus } from "../errors/mod.ts";
import { errorFrame } from "../protocol/mod.ts";
import { type HttpResponse, type RunningServer, startServer } from "../wsserver/mod.ts";

export function jsonResponse(status: number, body: unknown): HttpResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** A typed error as an HTTP answer: status from its code, body an error frame. */
export function errorResponse(err: unknown, id?: string): HttpResponse {
  const code = errorCode(err);
  const message = code === "internal" ? "internal error" : errorMessage(err);
  return jsonResponse(httpStatus(code), errorFrame(code, message, id));
}

/** Liveness: the process answers. */
export function healthz(service: string): HttpResponse {
  return jsonResponse(200, { status: "ok", service });
}

/** Workers (route, persist) serve only health; same server type as the edges so one code path runs everywhere. */
export async function startHealthServer(service: string, listen: { host: string; port: number }): Promise<RunningServer> {
  return await startServer({
    host: listen.host,
    port: listen.port,
    maxBodyBytes: 1024,
    maxFrameBytes: 1024,
    idleTimeoutSec: 0,
    maxBackpressureBytes: 1024,
    routes: { "GET /healthz": () => healthz(service) },
  });
}

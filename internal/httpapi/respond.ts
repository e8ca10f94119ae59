import type { HttpResponse } from "../wsserver/mod.ts";

export function jsonResponse(status: number, body: unknown): HttpResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** Liveness: the process answers. */
export function healthz(service: string): HttpResponse {
  return jsonResponse(200, { status: "ok", service });
}

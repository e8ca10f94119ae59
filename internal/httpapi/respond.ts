import { errorCode, errorMessage, httpStatus } from "../errors/mod.ts";
import { errorFrame } from "../protocol/mod.ts";
import type { HttpResponse } from "../wsserver/mod.ts";

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

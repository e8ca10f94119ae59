import { errorCode, errorMessage, httpStatus, retryAfterMs } from "../errors/mod.ts";
import { errorFrame } from "../protocol/mod.ts";
import type { HttpResponse } from "../wsserver/mod.ts";

export function jsonResponse(status: number, body: unknown): HttpResponse {
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/**
 * `Retry-After` (whole seconds, rounded up) for an answer that tells when to retry, as
 * `rate_limited` does.
 */
export function retryAfterHeader(ms: number | undefined): Record<string, string> {
  return ms === undefined ? {} : { "retry-after": String(Math.max(1, Math.ceil(ms / 1000))) };
}

/**
 * A typed error as an HTTP answer: status from its code, body an error frame (with
 * `retryAfterMs` and `Retry-After` when it has one).
 */
export function errorResponse(err: unknown, id?: string): HttpResponse {
  const code = errorCode(err);
  const message = code === "internal" ? "internal error" : errorMessage(err);
  const res = jsonResponse(httpStatus(code), errorFrame(code, message, id, retryAfterMs(err)));
  return { ...res, headers: { ...res.headers, ...retryAfterHeader(retryAfterMs(err)) } };
}

/** Liveness: the process answers. */
export function healthz(service: string): HttpResponse {
  return jsonResponse(200, { status: "ok", service });
}

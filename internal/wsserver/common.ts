/**
 * Pieces both server runtimes share, so they accept the same options and answer errors
 * identically.
 */
import { errorCode, errorMessage, httpStatus, JetmeshError, retryAfterMs } from "../errors/mod.ts";
import { errorFrame } from "../protocol/mod.ts";
import type { HttpResponse, ServerOptions } from "./types.ts";

/** Refuses options one runtime would reject, so a config that works on Deno also works on Node. */
export function checkOptions<T>(o: ServerOptions<T>): void {
  // uWS aborts the whole process (not a catchable error) for 1..7 s.
  if (o.idleTimeoutSec !== 0 && !(o.idleTimeoutSec >= 8)) {
    throw new JetmeshError(
      "bad_config",
      `idleTimeoutSec must be 0 or at least 8, got ${o.idleTimeoutSec}`,
    );
  }
}

/**
 * `Retry-After` (whole seconds, rounded up) for an answer that tells when to retry, as
 * `rate_limited` does.
 */
export function retryAfterHeader(ms: number | undefined): Record<string, string> {
  return ms === undefined ? {} : { "retry-after": String(Math.max(1, Math.ceil(ms / 1000))) };
}

/**
 * Every jetmesh HTTP error, the server's own and the handlers': status from the error's code,
 * body the same error frame a WebSocket gets (with `retryAfterMs` and `Retry-After` when it has
 * one). Only JetmeshError messages are meant for clients; anything else may carry internals, so
 * it goes out as a bare "internal".
 */
export function errorResponse(err: unknown, id?: string): HttpResponse {
  const code = errorCode(err);
  const message = code === "internal" ? "internal error" : errorMessage(err);
  const wait = retryAfterMs(err);
  return {
    status: httpStatus(code),
    headers: { "content-type": "application/json", ...retryAfterHeader(wait) },
    body: JSON.stringify(errorFrame(code, message, id, wait)),
  };
}

export function notFound(method: string, path: string): HttpResponse {
  return errorResponse(new JetmeshError("not_found", `no route for ${method} ${path}`));
}

export function tooLarge(maxBodyBytes: number): HttpResponse {
  return errorResponse(new JetmeshError("too_large", `body exceeds ${maxBodyBytes} bytes`));
}

/** Reports errors that became a 500, which would otherwise vanish into a response body. */
export function reportInternal(
  err: unknown,
  where: string,
  onError?: (err: unknown, where: string) => void,
): void {
  if (errorCode(err) !== "internal") return;
  if (onError) onError(err, where);
  else console.error(`jetmesh wsserver: ${where} failed:`, err);
}

export function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

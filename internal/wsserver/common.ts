/**
 * Pieces both server runtimes share, so they accept the same options and answer errors
 * identically.
 */
import {
  type ErrorCode,
  errorCode,
  errorMessage,
  httpStatus,
  JetmeshError,
} from "../errors/mod.ts";
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

/** Every jetmesh HTTP error has this JSON shape, the same as a WebSocket error frame. */
export function errorResponse(status: number, code: ErrorCode, message: string): HttpResponse {
  return {
    status,
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ op: "error", code, message }),
  };
}

export function notFound(method: string, path: string): HttpResponse {
  return errorResponse(404, "not_found", `no route for ${method} ${path}`);
}

export function tooLarge(maxBodyBytes: number): HttpResponse {
  return errorResponse(413, "too_large", `body exceeds ${maxBodyBytes} bytes`);
}

/**
 * Answer for an error a handler threw. Only JetmeshError messages are meant for
 * clients; anything else may carry internals, so it goes out as a bare "internal".
 */
export function thrownResponse(err: unknown): HttpResponse {
  const code = errorCode(err);
  const message = code === "internal" ? "internal error" : errorMessage(err);
  return errorResponse(httpStatus(code), code, message);
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

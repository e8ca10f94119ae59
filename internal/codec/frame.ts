import { JetmeshError } from "../errors/mod.ts";
import { jsonNestsDeeper, MAX_NESTING_DEPTH, valueNestsDeeper } from "./depth.ts";
import { packValue, unpackValue } from "./msgpack.ts";

/** How a client speaks: JSON text frames or msgpack binary frames, with the same shapes. */
export type Encoding = "json" | "msgpack";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes one client frame (a WebSocket frame or an HTTP body); malformed input
 * and nesting deeper than MAX_NESTING_DEPTH become a `bad_frame` error.
 */
export function decodeFrame(payload: Uint8Array | string, encoding: Encoding): unknown {
  const what = encoding === "json" ? "JSON" : "msgpack";
  let value: unknown;
  let tooDeep: boolean;
  try {
    if (encoding === "msgpack") {
      if (typeof payload === "string") throw new Error("msgpack frame must be binary");
      value = unpackValue(payload);
      tooDeep = valueNestsDeeper(value, MAX_NESTING_DEPTH);
    } else {
      const text = typeof payload === "string" ? payload : utf8.decode(payload);
      tooDeep = jsonNestsDeeper(text, MAX_NESTING_DEPTH);
      if (!tooDeep) value = JSON.parse(text);
    }
  } catch (err) {
    throw new JetmeshError("bad_frame", `invalid ${what}: ${(err as Error).message}`);
  }
  if (tooDeep) throw new JetmeshError("bad_frame", `${what} nests deeper than ${MAX_NESTING_DEPTH} levels`);
  return value;
}

export function encodeFrame(value: unknown, encoding: Encoding): Uint8Array | string {
  return encoding === "msgpack" ? packValue(value) : JSON.stringify(value);
}

/**
 * HTTP content type to encoding; undefined for a type jetmesh does not speak,
 * and for none at all: a body of unknown type is refused rather than read as JSON,
 * so a browser's cross-site form post (text/plain) or a typeless request never publishes.
 */
export function encodingOfContentType(contentType: string | undefined): Encoding | undefined {
  const t = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (t === "application/json") return "json";
  if (t === "application/msgpack" || t === "application/x-msgpack" || t === "application/vnd.msgpack") return "msgpack";
  return undefined;
}

export function contentTypeOf(encoding: Encoding): string {
  return encoding === "msgpack" ? "application/msgpack" : "application/json";
}

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
  if (tooDeep) {
    throw new JetmeshError("bad_frame", `${what} nests deeper than ${MAX_NESTING_DEPTH} levels`);
  }
  return value;
}

/**
 * JSON has no 64-bit integers: one from msgpack (a BigInt) becomes a number when that is exact,
 * else its digits as a string.
 */
function bigIntAsJson(_key: string, v: unknown): unknown {
  if (typeof v !== "bigint") return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v.toString();
}

/**
 * Encodes a frame for a client. A msgpack publisher's data may hold 64-bit
 * integers, which decode to BigInt and make JSON.stringify throw (notify
 * crashed delivering one to a JSON subscriber); the replacer runs only then,
 * so every other frame keeps the plain, faster stringify.
 */
export function encodeFrame(value: unknown, encoding: Encoding): Uint8Array | string {
  if (encoding === "msgpack") return packValue(value);
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    return JSON.stringify(value, bigIntAsJson);
  }
}

/**
 * HTTP content type to encoding; undefined for a type jetmesh does not speak,
 * and for none at all: a body of unknown type is refused rather than read as JSON,
 * so a browser's cross-site form post (text/plain) or a typeless request never publishes.
 */
export function encodingOfContentType(contentType: string | undefined): Encoding | undefined {
  const t = (contentType ?? "").split(";")[0].trim().toLowerCase();
  if (t === "application/json") return "json";
  if (
    t === "application/msgpack" || t === "application/x-msgpack" || t === "application/vnd.msgpack"
  ) return "msgpack";
  return undefined;
}

export function contentTypeOf(encoding: Encoding): string {
  return encoding === "msgpack" ? "application/msgpack" : "application/json";
}

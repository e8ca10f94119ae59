import { decodeFrame, type Encoding } from "../codec/mod.ts";
import { JetmeshError } from "../errors/mod.ts";

const utf8 = new TextEncoder();

export function byteLength(payload: Uint8Array | string): number {
  if (typeof payload !== "string") return payload.length;
  // A UTF-16 unit is at most 3 UTF-8 bytes: skip the encode for short strings.
  return payload.length * 3 <= 0xffff ? payload.length : utf8.encode(payload).length;
}

export interface ReadFrame {
  /** The encoding of the frame, which is also the encoding of the answer. */
  encoding: Encoding;
  value: unknown;
}

/**
 * First step for any WebSocket frame: size limit, then decoding. Throws a
 * JetmeshError (`too_large`, `bad_frame`) that the caller answers with an error frame.
 */
export function readFrame(payload: Uint8Array | string, isBinary: boolean, maxBytes: number): ReadFrame {
  const encoding: Encoding = isBinary ? "msgpack" : "json";
  const size = byteLength(payload);
  if (size > maxBytes) throw new JetmeshError("too_large", `frame is ${size} bytes; the limit is ${maxBytes}`);
  return { encoding, value: decodeFrame(payload, encoding) };
}

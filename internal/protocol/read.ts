import { decodeFrame, type Encoding } from "../codec/mod.ts";
import { JetmeshError } from "../errors/mod.ts";

/**
 * UTF-8 size of a frame, counted from the UTF-16 code units so a size check
 * never allocates the encoding it measures, and runs the same under Node and Deno.
 * A lone surrogate counts 3 bytes: TextEncoder writes it as U+FFFD.
 */
export function byteLength(payload: Uint8Array | string): number {
  if (typeof payload !== "string") return payload.length;
  let bytes = 0;
  for (let i = 0; i < payload.length; i++) {
    const unit = payload.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(payload.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}

interface ReadFrame {
  /** The encoding of the frame, which is also the encoding of the answer. */
  encoding: Encoding;
  value: unknown;
}

/**
 * First step for any WebSocket frame: size limit, then decoding. Throws a
 * JetmeshError (`too_large`, `bad_frame`) that the caller answers with an error frame.
 */
export function readFrame(
  payload: Uint8Array | string,
  isBinary: boolean,
  maxBytes: number,
): ReadFrame {
  const encoding: Encoding = isBinary ? "msgpack" : "json";
  const size = byteLength(payload);
  if (size > maxBytes) {
    throw new JetmeshError("too_large", `frame is ${size} bytes; the limit is ${maxBytes}`);
  }
  return { encoding, value: decodeFrame(payload, encoding) };
}

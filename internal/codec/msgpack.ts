import { Packr } from "msgpackr";

/**
 * One msgpack codec for frames and bus payloads. Records are off because the
 * record extension is private to msgpackr and other msgpack libraries (browsers,
 * Go, Python clients) reject it; maps decode to plain objects for the same reason.
 */
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Throws on malformed input; callers at an edge turn that into `bad_frame`. */
export function unpackValue(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

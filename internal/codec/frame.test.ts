import t from "tap";
import { decodeFrame, encodeFrame } from "./frame.ts";
import { MAX_NESTING_DEPTH } from "./depth.ts";
import { packValue } from "./msgpack.ts";

/** `depth` arrays inside each other, the innermost holding 1. */
function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/**
 * The same as msgpack bytes, built by hand: packing a deep value recurses as much as decoding
 * it.
 */
function nestedMsgpack(depth: number): Uint8Array {
  return new Uint8Array([...new Array(depth).fill(0x91), 0x01]);
}

t.test("frames nested deeper than the limit are bad_frame, in JSON and msgpack", async (t) => {
  const deepJson = "[".repeat(3000) + "]".repeat(3000);
  t.throws(() => decodeFrame(deepJson, "json"), {
    code: "bad_frame",
    message: "JSON nests deeper than 64 levels",
  }, "3000-deep JSON text");
  t.throws(
    () => decodeFrame(new TextEncoder().encode(deepJson), "json"),
    { code: "bad_frame" },
    "3000-deep JSON as bytes (an HTTP body)",
  );
  t.throws(() => decodeFrame(nestedMsgpack(3000), "msgpack"), {
    code: "bad_frame",
    message: "msgpack nests deeper than 64 levels",
  }, "3000-deep msgpack");
  const deepMap = { a: { b: nested(MAX_NESTING_DEPTH) } };
  t.throws(
    () => decodeFrame(JSON.stringify(deepMap), "json"),
    { code: "bad_frame" },
    "objects count as levels",
  );
  t.throws(
    () => decodeFrame(packValue(deepMap), "msgpack"),
    { code: "bad_frame" },
    "msgpack maps count as levels",
  );
});

t.test("frames nested up to the limit decode", async (t) => {
  t.equal(MAX_NESTING_DEPTH, 64);
  t.same(decodeFrame(JSON.stringify(nested(64)), "json"), nested(64), "64-deep JSON");
  t.same(decodeFrame(nestedMsgpack(64), "msgpack"), nested(64), "64-deep msgpack");
  t.throws(
    () => decodeFrame(JSON.stringify(nested(65)), "json"),
    { code: "bad_frame" },
    "65-deep JSON",
  );
  t.throws(
    () => decodeFrame(nestedMsgpack(65), "msgpack"),
    { code: "bad_frame" },
    "65-deep msgpack",
  );
  const brackets = { op: "pub", data: "[[[{{{".repeat(100) + '\\"[[' };
  t.same(
    decodeFrame(JSON.stringify(brackets), "json"),
    brackets,
    "brackets inside strings, after escaped quotes, do not count",
  );
  const bin = decodeFrame(packValue({ bin: new Uint8Array(100_000) }), "msgpack") as {
    bin: Uint8Array;
  };
  t.equal(bin.bin.length, 100_000, "binary data is not walked as levels");
});

t.test("malformed frames are still bad_frame with the parser's message", async (t) => {
  t.throws(() => decodeFrame("{not json", "json"), {
    code: "bad_frame",
    message: /^invalid JSON: /,
  });
  t.throws(() => decodeFrame(new Uint8Array([0xd9, 0x10]), "msgpack"), {
    code: "bad_frame",
    message: /^invalid msgpack: /,
  });
  t.throws(() => decodeFrame("[1]", "msgpack"), {
    code: "bad_frame",
    message: "invalid msgpack: msgpack frame must be binary",
  });
});

t.test("64-bit integers from msgpack encode as JSON: numbers when exact, digits otherwise", async (t) => {
  const small = decodeFrame(
    new Uint8Array([0x81, 0xa1, 0x6e, 0xcf, 0, 0, 0, 0, 0, 0, 0, 7]),
    "msgpack",
  );
  const huge = decodeFrame(
    new Uint8Array([0x81, 0xa1, 0x6e, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    "msgpack",
  );
  t.equal(
    encodeFrame({ op: "event", data: small }, "json"),
    '{"op":"event","data":{"n":7}}',
    "a uint64 7",
  );
  t.equal(
    encodeFrame({ op: "event", data: huge }, "json"),
    '{"op":"event","data":{"n":"18446744073709551615"}}',
    "2^64-1",
  );
  t.same(
    decodeFrame(encodeFrame(huge, "msgpack"), "msgpack"),
    huge,
    "msgpack keeps the exact value",
  );
});

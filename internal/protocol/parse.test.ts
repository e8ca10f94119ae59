import t from "tap";
import { decodeFrame } from "../codec/mod.ts";
import { parseSubscriberFrame } from "./parse.ts";

t.test("an op of any type is unknown_op, a 64-bit integer included", async (t) => {
  // {"op": -2^63} in msgpack: the op decodes to a BigInt (found by test/fuzz, answered internal).
  const bigOp = decodeFrame(
    new Uint8Array([0x81, 0xa2, 0x6f, 0x70, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0]),
    "msgpack",
  );
  t.throws(() => parseSubscriberFrame(bigOp), {
    code: "unknown_op",
    message: /^unknown op of type bigint;/,
  });
  t.throws(() => parseSubscriberFrame({ op: "nope" }), {
    code: "unknown_op",
    message: /^unknown op "nope";/,
  });
  t.throws(() => parseSubscriberFrame({ op: [1] }), {
    code: "unknown_op",
    message: /^unknown op of type object;/,
  });
});

import t from "tap";
import { decodeFrame } from "../codec/mod.ts";
import { parsePub, parseSubscriberFrame } from "./parse.ts";

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

t.test("a publish needs a concrete channel, data and a valid id; the rest is refused with its code", async (t) => {
  t.same(parsePub({ op: "pub", id: "a-1", channel: "chat.a", data: null }), {
    op: "pub",
    id: "a-1",
    channel: "chat.a",
    data: null,
    traceparent: undefined,
  }, "null data is data");
  t.throws(() => parsePub({ op: "pub", channel: "chat.a" }), { code: "bad_frame" }, "no data");
  t.throws(() => parsePub({ op: "pub", channel: "chat.a", data: undefined }), {
    code: "bad_frame",
  }, "undefined data");
  t.throws(() => parsePub({ op: "pub", channel: "chat.*", data: 1 }), {
    code: "bad_channel",
  }, "a wildcard");
  t.throws(() => parsePub({ op: "pub", channel: "chat.>", data: 1 }), {
    code: "bad_channel",
  }, "a full wildcard");
  t.throws(() => parsePub({ op: "pub", id: "a b", channel: "c", data: 1 }), { code: "bad_id" });
  t.throws(() => parsePub({ op: "pub", id: "i".repeat(129), channel: "c", data: 1 }), {
    code: "bad_id",
  });
  t.throws(() => parsePub({ op: "sub", channel: "c", data: 1 }), { code: "unknown_op" });
});

t.test("a subscription's `after` must be a cursor; patterns are allowed", async (t) => {
  t.same(parseSubscriberFrame({ op: "sub", channel: "chat.*", after: "1764000000000-4" }), {
    op: "sub",
    channel: "chat.*",
    after: "1764000000000-4",
  });
  for (const after of ["yesterday", "1-2-3", 5, ""]) {
    t.throws(
      () => parseSubscriberFrame({ op: "sub", channel: "c", after }),
      { code: "bad_frame" },
      JSON.stringify(after),
    );
  }
});

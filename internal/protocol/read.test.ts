import t from "tap";
import { byteLength, readFrame } from "./read.ts";

const utf8 = new TextEncoder();

t.test("byteLength is the UTF-8 size of a string, as TextEncoder writes it", async (t) => {
  const cases: Array<[string, string]> = [
    ["empty", ""],
    ["ASCII", '{"op":"pub","channel":"a.b"}'],
    ["2-byte chars", "é£ß"],
    ["3-byte chars", "€한中"],
    ["4-byte chars (surrogate pairs)", "😀𝄞"],
    ["mixed", "a é € 😀 z"],
    ["lone high surrogate", "a\ud800b"],
    ["lone low surrogate", "\udc00"],
    ["high surrogate at the end", "x\ud83d"],
  ];
  for (const [name, s] of cases) t.equal(byteLength(s), utf8.encode(s).length, name);
  t.equal(byteLength("€".repeat(100_000)), 300_000, "long strings are counted the same way");
  t.equal(byteLength(new Uint8Array(7)), 7, "binary frames are their length");
});

t.test("a frame over the limit in UTF-8 is refused even when its UTF-16 length is under it", async (t) => {
  const limit = 1024;
  const frame = JSON.stringify({ op: "pub", channel: "a.b", payload: "€".repeat(400) });
  t.ok(frame.length < limit, `UTF-16 length ${frame.length} is under the limit`);
  t.ok(utf8.encode(frame).length > limit, `UTF-8 length ${utf8.encode(frame).length} is over it`);
  t.throws(() => readFrame(frame, false, limit), {
    code: "too_large",
    message: `frame is ${utf8.encode(frame).length} bytes; the limit is ${limit}`,
  });
  t.throws(
    () => readFrame(utf8.encode(frame), true, limit),
    { code: "too_large" },
    "the same bytes as a binary frame",
  );
  const fits = JSON.stringify({ op: "pub", payload: "é".repeat(499) });
  t.equal(byteLength(fits), 1023);
  t.same(
    readFrame(fits, false, limit).value,
    { op: "pub", payload: "é".repeat(499) },
    "a frame within the limit in UTF-8 passes",
  );
});

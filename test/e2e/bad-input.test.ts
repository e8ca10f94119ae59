import t from "tap";
import { startStack } from "../../devkit/in-process-stack.ts";
import { TestClient } from "../../devkit/test-client.ts";

/** `depth` arrays inside each other. */
function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

t.test("malformed input gets the right error code; connections and services stay usable", async (t) => {
  const stack = await startStack({ INGEST_MAX_FRAME_BYTES: "1024" });
  t.teardown(stack.stop);
  const bystander = await TestClient.open(`${stack.ingestWs}?publisher=b`);
  t.teardown(() => bystander.close());
  const c = await TestClient.open(`${stack.ingestWs}?publisher=p`);
  t.teardown(() => c.close());

  const cases: Array<[string, () => void, string]> = [
    ["invalid JSON", () => c.sendRaw("{not json", false), "bad_frame"],
    ["invalid msgpack", () => c.sendRaw(new Uint8Array([0xc1, 0xff, 0x00]), true), "bad_frame"],
    [
      "data nested 100 deep",
      () => c.sendJson({ op: "pub", id: "n1", channel: "x", data: nested(100) }),
      "bad_frame",
    ],
    [
      "msgpack data nested 100 deep",
      () => c.sendMsgpack({ op: "pub", id: "n2", channel: "x", data: nested(100) }),
      "bad_frame",
    ],
    ["not an object", () => c.sendJson([1, 2]), "bad_frame"],
    ["unknown op", () => c.sendJson({ op: "explode", id: "u1" }), "unknown_op"],
    ["missing channel", () => c.sendJson({ op: "pub", id: "m1", data: 1 }), "bad_frame"],
    ["missing data", () => c.sendJson({ op: "pub", id: "m2", channel: "x" }), "bad_frame"],
    [
      "oversized frame",
      () => c.sendJson({ op: "pub", id: "big", channel: "x", data: "z".repeat(2000) }),
      "too_large",
    ],
    [
      "bad channel",
      () => c.sendJson({ op: "pub", id: "c1", channel: "a..b", data: 1 }),
      "bad_channel",
    ],
    [
      "channel with a space",
      () => c.sendJson({ op: "pub", id: "c2", channel: "a b", data: 1 }),
      "bad_channel",
    ],
    [
      "wildcard on publish",
      () => c.sendJson({ op: "pub", id: "w1", channel: "chat.*", data: 1 }),
      "bad_channel",
    ],
    [
      "full wildcard on publish",
      () => c.sendJson({ op: "pub", id: "w2", channel: "chat.>", data: 1 }),
      "bad_channel",
    ],
    [
      "too many tokens",
      () => c.sendJson({ op: "pub", id: "t1", channel: Array(17).fill("a").join("."), data: 1 }),
      "bad_channel",
    ],
    ["bad id", () => c.sendJson({ op: "pub", id: "has space", channel: "x", data: 1 }), "bad_id"],
    [
      "id too long",
      () => c.sendJson({ op: "pub", id: "i".repeat(129), channel: "x", data: 1 }),
      "bad_id",
    ],
  ];
  for (const [name, send, code] of cases) {
    const from = c.frames.length;
    send();
    const f = await c.next(() => true, from);
    t.match(f, { op: "error", code }, name);
    t.type(f.message, "string");
  }
  t.match(
    c.frames.find((f) => f.code === "bad_channel"),
    { id: "c1" },
    "the error names the frame's id",
  );
  const deep = await fetch(`${stack.ingestHttp}/v1/publish`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: `{"channel":"x","data":${"[".repeat(3000)}${"]".repeat(3000)}}`,
  });
  t.equal(deep.status, 400, "an HTTP body nested 3000 deep is a bad request");
  t.match(await deep.json(), { code: "bad_frame", message: "JSON nests deeper than 64 levels" });
  const from = c.frames.length;
  c.sendMsgpack({ op: "nope" });
  const packed = await c.next(() => true, from);
  t.match(packed, { op: "error", code: "unknown_op" });
  t.ok(c.isBinary(packed), "a binary frame is answered in msgpack, as a binary frame");
  t.notOk(c.isBinary(c.frames[0]), "a text frame was answered in JSON, as a text frame");

  // The same connection and a bystander still publish.
  const before = c.frames.length;
  c.sendJson({ op: "pub", id: "fine", channel: "x", data: 1 });
  t.match(
    await c.next(() => true, before),
    { op: "ack", id: "fine" },
    "the connection that sent garbage still works",
  );
  t.notOk(c.closed, "not closed");
  bystander.sendJson({ op: "pub", id: "b1", channel: "x", data: 1 });
  t.match(
    await bystander.next(() => true),
    { op: "ack", id: "b1" },
    "other connections are unaffected",
  );

  t.test("a frame past the transport limit closes only that connection", async (t) => {
    const huge = await TestClient.open(`${stack.ingestWs}?publisher=h`);
    huge.sendRaw("x".repeat(1536 * 1024), false);
    await huge.until(() => huge.closed !== undefined, 10_000, "close").catch(() => {});
    t.equal(huge.closed?.code, 1009, "closed with 1009 (message too big)");
    const n = bystander.frames.length;
    bystander.sendJson({ op: "pub", id: "b2", channel: "x", data: 1 });
    t.match(await bystander.next(() => true, n), { op: "ack", id: "b2" });
  });

  t.test("msgpack end to end: a binary publish is acked in msgpack, a binary subscriber gets the event in msgpack", async (t) => {
    const s = await TestClient.open(stack.notifyWs);
    t.teardown(() => s.close());
    s.sendMsgpack({ op: "sub", channel: "mp.room" });
    const subscribed = await s.next((f) => f.op === "subscribed");
    t.ok(s.isBinary(subscribed), "subscribed, as a binary frame");
    const p = await TestClient.open(`${stack.ingestWs}?publisher=mp`);
    t.teardown(() => p.close());
    const data = {
      text: "héllo",
      n: 42,
      bytes: new Uint8Array([1, 2, 3]),
      list: [1.5, null, true],
    };
    p.sendMsgpack({ op: "pub", id: "mp-1", channel: "mp.room", data });
    const ack = await p.next((f) => f.op === "ack" || f.op === "error");
    t.match(ack, { op: "ack", id: "mp-1", dup: false });
    t.ok(p.isBinary(ack), "the ack, as a binary frame");
    const event = await s.next((f) => f.op === "event");
    t.ok(s.isBinary(event), "the event, as a binary frame");
    t.match(event, { channel: "mp.room", id: "mp:mp-1" });
    t.same(event.data, data, "data as published, binary included");
  });

  t.test("notify answers bad subscriber frames with codes", async (t) => {
    const s = await TestClient.open(stack.notifyWs);
    t.teardown(() => s.close());
    const subCases: Array<[unknown, string]> = [
      ["{broken", "bad_frame"],
      [{ op: "pub", channel: "x", data: 1 }, "unknown_op"],
      [{ op: "sub" }, "bad_frame"],
      [{ op: "sub", channel: "a.>.b" }, "bad_channel"],
      [{ op: "sub", channel: "x", after: "yesterday" }, "bad_frame"],
      [{ channel: "x" }, "bad_frame"],
    ];
    for (const [frame, code] of subCases) {
      const n = s.frames.length;
      if (typeof frame === "string") s.sendRaw(frame, false);
      else s.sendJson(frame);
      t.match(await s.next(() => true, n), { op: "error", code }, JSON.stringify(frame));
    }
    const n = s.frames.length;
    s.sendJson({ op: "sub", channel: "x.*" });
    t.match(
      await s.next(() => true, n),
      { op: "subscribed", channel: "x.*" },
      "still usable; wildcards allowed on subscribe",
    );
  });
});

import t from "tap";
import { packValue, unpackValue } from "../../internal/codec/mod.ts";
import { startStack } from "../../devkit/in-process-stack.ts";
import { deliveredThrough, isMarker, TestClient } from "../../devkit/test-client.ts";

t.test("HTTP publish behaves like WebSocket publish; history pages what was stored", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);
  const url = `${stack.ingestHttp}/v1/publish?publisher=web`;
  const sub = await TestClient.open(stack.notifyWs);
  t.teardown(() => sub.close());
  sub.sendJson({ op: "sub", channel: "h.>" });
  await sub.next((f) => f.op === "subscribed");

  const postJson = (body: unknown) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const postPack = (body: unknown) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/msgpack" },
      body: Buffer.from(packValue(body)),
    });

  t.test("single JSON", async (t) => {
    const res = await postJson({ id: "j1", channel: "h.one", data: { a: 1 } });
    t.equal(res.status, 200);
    const ack = await res.json();
    t.match(ack, { op: "ack", id: "j1", dup: false });
    t.type(ack.seq, "number");
    const again = await (await postJson({ id: "j1", channel: "h.one", data: { a: 1 } })).json();
    t.same(again, { ...ack, dup: true }, "a retry is acked dup:true with the original seq");
  });

  t.test("batch JSON", async (t) => {
    const res = await postJson([
      { id: "b1", channel: "h.two", data: 1 },
      { id: "b2", channel: "h.two", data: 2 },
      { op: "pub", id: "b3", channel: "h.one", data: 3 },
    ]);
    t.equal(res.status, 200);
    const acks = await res.json();
    t.equal(acks.length, 3);
    t.same(acks.map((a: { id: string }) => a.id), ["b1", "b2", "b3"]);
    t.ok(acks[0].seq < acks[1].seq, "events of one channel keep the batch order");
  });

  t.test("single and batch msgpack", async (t) => {
    const res = await postPack({
      id: "m1",
      channel: "h.one",
      data: { bin: new Uint8Array([1, 2, 3]) },
    });
    t.equal(res.status, 200);
    t.equal(res.headers.get("content-type"), "application/msgpack");
    t.match(unpackValue(new Uint8Array(await res.arrayBuffer())), {
      op: "ack",
      id: "m1",
      dup: false,
    });
    const batch = await postPack([{ id: "m2", channel: "h.two", data: "x" }, {
      id: "m3",
      channel: "h.two",
      data: "y",
    }]);
    const acks = unpackValue(new Uint8Array(await batch.arrayBuffer())) as Array<
      { id: string; dup: boolean }
    >;
    t.same(acks.map((a) => [a.id, a.dup]), [["m2", false], ["m3", false]]);
  });

  t.test("bad requests get a 4xx JSON error and publish nothing", async (t) => {
    const bad = await postJson([{ id: "ok1", channel: "h.one", data: 1 }, {
      id: "bad",
      channel: "h.*",
      data: 1,
    }]);
    t.equal(bad.status, 400);
    t.match(await bad.json(), { op: "error", code: "bad_channel", message: /event 1/ });
    const broken = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    t.equal(broken.status, 400);
    t.match(await broken.json(), { op: "error", code: "bad_frame" });
    const type = await fetch(url, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "hi",
    });
    t.equal(type.status, 400);
    t.match(await type.json(), { code: "bad_request" });
    const missing = await postJson({ id: "nodata", channel: "h.one" });
    t.match(await missing.json(), { code: "bad_frame", message: /data/ });
    const notFound = await fetch(`${stack.ingestHttp}/v1/nope`);
    t.equal(notFound.status, 404);
    t.match(await notFound.json(), { op: "error", code: "not_found" });
  });

  t.test("subscribers see HTTP-published events like any other, once each", async (t) => {
    await sub.until((fs) => fs.filter((f) => f.op === "event").length >= 6, 15_000, "6 events");
    for (const channel of ["h.one", "h.two"]) await deliveredThrough(postJson, sub, channel);
    const ids = (ch: string) => sub.events().filter((f) => f.channel === ch).map((f) => f.id);
    t.same(ids("h.one"), ["web:j1", "web:b3", "web:m1"], "h.one in publish order");
    t.same(ids("h.two"), ["web:b1", "web:b2", "web:m2", "web:m3"], "h.two in publish order");
    t.equal(sub.events().length, 7, "7 distinct events, the retried one once");
    t.equal(new Set(sub.events().map((f) => f.id)).size, 7);
  });

  t.test("history returns what was stored, in order, paged by after and limit", async (t) => {
    const all: string[] = [];
    const deadline = Date.now() + 15_000;
    let page: {
      events: Array<{ id: string; cursor: string; data: unknown }>;
      next: string | null;
    } = { events: [], next: null };
    while (Date.now() < deadline) {
      page = await (await fetch(`${stack.notifyHttp}/v1/history?channel=h.two`)).json();
      if (page.events.length >= 4) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.same(page.events.map((e) => e.id).filter((id) => !isMarker(id)), [
      "web:b1",
      "web:b2",
      "web:m2",
      "web:m3",
    ]);
    let after = "";
    for (;;) {
      const res = await fetch(
        `${stack.notifyHttp}/v1/history?channel=h.two&limit=3${after ? `&after=${after}` : ""}`,
      );
      t.equal(res.status, 200);
      const p = await res.json();
      all.push(...p.events.map((e: { id: string }) => e.id));
      if (p.events.length === 0) {
        t.equal(p.next, after, "an empty page keeps the cursor");
        break;
      }
      after = p.next;
    }
    t.same(
      all.filter((id) => !isMarker(id)),
      ["web:b1", "web:b2", "web:m2", "web:m3"],
      "pages join up with no gap and no repeat",
    );
    const one = await (await fetch(`${stack.notifyHttp}/v1/history?channel=h.one`)).json();
    t.same(one.events.map((e: { data: unknown }) => e.data).slice(0, 2), [{ a: 1 }, 3]);
    const packed = await fetch(`${stack.notifyHttp}/v1/history?channel=h.one`, {
      headers: { accept: "application/msgpack" },
    });
    t.equal(packed.headers.get("content-type"), "application/msgpack");
    const body = unpackValue(new Uint8Array(await packed.arrayBuffer())) as {
      events: Array<{ data: { bin: Uint8Array } }>;
    };
    t.same([...body.events[2].data.bin], [1, 2, 3], "binary data survives storage over msgpack");
    const bad = await fetch(`${stack.notifyHttp}/v1/history?channel=h.*`);
    t.equal(bad.status, 400);
    t.match(await bad.json(), { code: "bad_channel" });
    const badLimit = await fetch(`${stack.notifyHttp}/v1/history?channel=h.one&limit=0`);
    t.equal(badLimit.status, 400);
    const badAfter = await fetch(`${stack.notifyHttp}/v1/history?channel=h.one&after=zzz`);
    t.equal(badAfter.status, 400);
  });
});

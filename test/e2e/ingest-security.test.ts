import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import t, { type Test } from "tap";
import WebSocket from "ws";
import { decodeEnvelope, INGEST_STREAM } from "../../subjects/mod.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";
import { TestClient } from "../../devkit/test-client.ts";
import { startStack } from "../../devkit/in-process-stack.ts";

/**
 * Status of a WebSocket upgrade (101 when it opened, then closed again) and the body of a
 * refusal.
 */
function upgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once("open", () => {
      ws.close();
      resolve({ status: 101, body: "" });
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once("error", reject);
  });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

t.test("ingest refuses, contains and answers the attacks on its edge", async (t) => {
  const { secret, env } = jwtAuth();
  const dir = mkdtempSync(join(tmpdir(), "jetmesh-ns-"));
  const nsFile = join(dir, "namespaces.json");
  writeFileSync(
    nsFile,
    JSON.stringify({
      connections: { perAddress: 5, perIdentity: 20 },
      namespaces: [
        {
          name: "tiny",
          channels: "tiny.>",
          publish: "authenticated",
          limits: { maxPayloadBytes: 64 },
        },
        {
          name: "metered",
          channels: "metered.>",
          publish: "authenticated",
          limits: { publishRate: { perSecond: 5, burst: 3 } },
        },
        {
          name: "sealed",
          channels: "sealed.>",
          publish: "nobody",
          limits: { publishRate: { perSecond: 1, burst: 3 } },
        },
      ],
    }),
  );
  const stack = await startStack({ ...env, JETMESH_NAMESPACES: nsFile });
  t.teardown(stack.stop);
  const token = (sub: string, expiresIn?: number) =>
    mintToken(secret, sub, { publish: ["chat.>"], expiresIn });
  const alice = await token("alice");
  const open = async (t: Test, tok: string, query = "") => {
    const c = await TestClient.open(`${stack.ingestWs}?token=${tok}${query}`);
    t.teardown(() => c.close());
    return c;
  };
  const publish = async (c: TestClient, frame: Record<string, unknown>) => {
    const from = c.frames.length;
    c.sendJson({ op: "pub", ...frame });
    return await c.next(() => true, from);
  };
  const post = (body: unknown, headers: Record<string, string>, query = "") =>
    fetch(`${stack.ingestHttp}/v1/publish${query}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    });

  t.test("no, bad, expired, alg:none or wrongly signed tokens are refused with 401", async (t) => {
    const now = Math.floor(Date.now() / 1000);
    const refused: Array<[string, string]> = [
      ["no token", ""],
      ["garbage", "?token=not-a-jwt"],
      ["expired", `?token=${await token("alice", -120)}`],
      [
        "alg:none",
        `?token=${b64({ alg: "none", typ: "JWT" })}.${
          b64({ sub: "alice", exp: now + 3600, jetmesh: { publish: [">"] } })
        }.`,
      ],
      [
        "wrong signature",
        `?token=${await mintToken(jwtAuth().secret, "alice", { publish: [">"] })}`,
      ],
    ];
    for (const [what, query] of refused) {
      const r = await upgrade(`${stack.ingestWs}${query}`);
      t.equal(r.status, 401, `upgrade, ${what}`);
      t.match(JSON.parse(r.body), { op: "error", code: "unauthorized" }, what);
    }
    t.equal((await upgrade(`${stack.ingestWs}?token=${alice}`)).status, 101, "a valid token opens");
    t.equal(
      (await upgrade(stack.ingestWs, { authorization: `Bearer ${alice}` })).status,
      101,
      "so does a bearer header",
    );

    const body = { id: "h1", channel: "chat.http", data: 1 };
    const json = { "content-type": "application/json" };
    const none = await post(body, json);
    t.equal(none.status, 401, "HTTP without a token");
    t.match(await none.json(), { op: "error", code: "unauthorized" });
    t.equal(
      (await post(body, { ...json, authorization: "Bearer nope" })).status,
      401,
      "HTTP with a bad token",
    );
    const inUrl = await post(body, json, `?token=${alice}`);
    t.equal(inUrl.status, 401, "HTTP with the token in the URL");
    t.match(await inUrl.json(), { code: "unauthorized", message: /Authorization: Bearer/ });
    const ok = await post(body, { ...json, authorization: `Bearer ${alice}` });
    t.equal(ok.status, 200, "HTTP with a bearer token");
  });

  t.test("?publisher= names nobody: mallory cannot make alice's msg-3 a duplicate", async (t) => {
    const mallory = await open(t, await token("mallory"), "&publisher=alice");
    const forged = await publish(mallory, { id: "msg-3", channel: "chat.room", data: "forged" });
    t.match(forged, { op: "ack", id: "msg-3", dup: false });
    const real = await publish(await open(t, alice), {
      id: "msg-3",
      channel: "chat.room",
      data: "real",
    });
    t.match(
      real,
      { op: "ack", id: "msg-3", dup: false },
      "alice's msg-3 is hers, not a duplicate of mallory's",
    );
    const nc = await connect({ servers: stack.nats.url, ...stack.admin });
    t.teardown(() => nc.close());
    const jsm = await jetstreamManager(nc);
    const stored = async (seq: unknown) =>
      decodeEnvelope((await jsm.streams.getMessage(INGEST_STREAM, { seq: seq as number }))!.data);
    t.match(
      await stored(forged.seq),
      { id: "mallory:msg-3", publisher: "mallory" },
      "the token's sub is the publisher",
    );
    t.match(await stored(real.seq), { id: "alice:msg-3", publisher: "alice" });
    const http = await post({ id: "h2", channel: "chat.room", data: 1 }, {
      "content-type": "application/json",
      authorization: `Bearer ${await token("mallory")}`,
      "x-jetmesh-publisher": "alice",
    }, "?publisher=alice");
    t.match(await stored((await http.json()).seq), { id: "mallory:h2" }, "over HTTP too");
  });

  t.test("a forbidden channel is refused per frame; the socket stays usable", async (t) => {
    const c = await open(t, alice);
    t.match(await publish(c, { id: "f1", channel: "admin.secrets", data: 1 }), {
      op: "error",
      id: "f1",
      code: "forbidden",
    });
    t.match(await publish(c, { id: "f2", channel: "chat.ok", data: 1 }), { op: "ack", id: "f2" });
    const batch = await post([{ id: "f3", channel: "chat.ok", data: 1 }, {
      id: "f4",
      channel: "admin.x",
      data: 1,
    }], {
      "content-type": "application/json",
      authorization: `Bearer ${alice}`,
    });
    t.equal(batch.status, 403, "a batch answers with its first error's status");
    t.match(await batch.json(), [{ op: "ack", id: "f3" }, {
      op: "error",
      id: "f4",
      code: "forbidden",
    }], "each item on its own");
  });

  t.test("a page of another origin cannot open a socket; no origin and the own origin can", async (t) => {
    const url = `${stack.ingestWs}?token=${alice}`;
    const evil = await upgrade(url, { origin: "https://evil.example" });
    t.equal(evil.status, 403);
    t.match(JSON.parse(evil.body), { code: "forbidden" });
    t.equal((await upgrade(url)).status, 101, "no Origin (not a browser)");
    t.equal(
      (await upgrade(url, { origin: stack.ingestHttp })).status,
      101,
      "the service's own origin",
    );
  });

  t.test("HTTP publish without a content type is refused, not read as JSON", async (t) => {
    const res = await fetch(`${stack.ingestHttp}/v1/publish`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}` },
      body: new Uint8Array(Buffer.from(JSON.stringify({ channel: "chat.x", data: 1 }))),
    });
    t.equal(res.status, 400);
    t.match(await res.json(), { op: "error", code: "bad_request", message: /Content-Type/ });
    const form = await post({ channel: "chat.x", data: 1 }, {
      "content-type": "text/plain",
      authorization: `Bearer ${alice}`,
    });
    t.equal(form.status, 400, "nor as text/plain (a cross-site form post)");
  });

  t.test("over the rate limit: rate_limited with a retry hint, then it passes", async (t) => {
    const c = await open(t, alice);
    // Back to back, so no token is refilled in between.
    for (let i = 0; i < 4; i++) {
      c.sendJson({ op: "pub", id: `r${i}`, channel: "metered.x", data: i });
    }
    await c.until((fs) => fs.length >= 4);
    const byId = new Map(c.frames.map((f) => [f.id, f]));
    for (let i = 0; i < 3; i++) t.match(byId.get(`r${i}`), { op: "ack" }, `burst ${i}`);
    const limited = byId.get("r3")!;
    t.match(limited, { op: "error", id: "r3", code: "rate_limited" });
    t.ok(
      (limited.retryAfterMs as number) > 0 && (limited.retryAfterMs as number) <= 200,
      `retryAfterMs ${limited.retryAfterMs}`,
    );
    await new Promise((r) => setTimeout(r, limited.retryAfterMs as number));
    t.match(
      await publish(c, { id: "r3", channel: "metered.x", data: 3 }),
      { op: "ack", id: "r3" },
      "after the wait",
    );
    t.match(
      await publish(c, { id: "r4", channel: "chat.x", data: 4 }),
      { op: "ack" },
      "another namespace has its own budget",
    );

    const bob = {
      "content-type": "application/json",
      authorization: `Bearer ${await token("bob")}`,
    };
    // Each on its own channel, so all four are admitted at once rather than one after
    // another's ack.
    const items = [0, 1, 2, 3].map((i) => ({ id: `hr${i}`, channel: `metered.y${i}`, data: i }));
    const res = await post(items, bob);
    t.equal(res.status, 429);
    t.equal(res.headers.get("retry-after"), "1", "Retry-After in whole seconds, rounded up");
    const answers = await res.json();
    t.match(answers.slice(0, 3), [{ op: "ack" }, { op: "ack" }, { op: "ack" }]);
    t.match(answers[3], { op: "error", id: "hr3", code: "rate_limited", retryAfterMs: Number });
    await new Promise((r) => setTimeout(r, answers[3].retryAfterMs));
    t.equal((await post(items[3], bob)).status, 200, "the refused item passes after the wait");
  });

  t.test("forbidden publishes use up the rate too, so a flood of them is rate-limited like any other", async (t) => {
    const c = await open(t, await token("fiona"));
    for (let i = 0; i < 6; i++) {
      c.sendJson({ op: "pub", id: `s${i}`, channel: "sealed.vault", data: i });
    }
    await c.until((fs) => fs.length >= 6);
    const code = new Map(c.frames.map((f) => [f.id, f.code]));
    t.same([0, 1, 2, 3, 4, 5].map((i) => code.get(`s${i}`)), [
      "forbidden",
      "forbidden",
      "forbidden",
      "rate_limited",
      "rate_limited",
      "rate_limited",
    ]);
  });

  t.test("connections per address are capped; a closed one frees its slot", async (t) => {
    const held = await Promise.all(
      [0, 1, 2, 3, 4].map(() => TestClient.open(`${stack.ingestWs}?token=${alice}`)),
    );
    const sixth = await upgrade(`${stack.ingestWs}?token=${alice}`);
    t.equal(sixth.status, 429, "the 6th upgrade from one address");
    t.match(JSON.parse(sixth.body), { code: "limit_exceeded" });
    await held[0].close();
    await new Promise((r) => setTimeout(r, 100));
    t.equal((await upgrade(`${stack.ingestWs}?token=${alice}`)).status, 101, "after one closed");
    await Promise.all(held.slice(1).map((c) => c.close()));
  });

  t.test("an auth frame renews the token; an unrenewed one closes the socket with 4001", async (t) => {
    const renewed = await open(t, await token("alice", 2));
    const from = renewed.frames.length;
    renewed.sendJson({ op: "auth", token: await token("alice") });
    const authed = await renewed.next(() => true, from);
    t.match(authed, { op: "authed", sub: "alice" });
    t.ok((authed.expiresAt as number) > Date.now() + 3_000_000, "expiresAt is the new token's");
    renewed.sendJson({ op: "auth", token: await token("mallory") });
    t.match(
      await renewed.next(() => true, from + 1),
      { op: "error", code: "forbidden" },
      "a token of another sub is refused",
    );
    renewed.sendJson({ op: "auth", token: "junk" });
    t.match(
      await renewed.next(() => true, from + 2),
      { op: "error", code: "unauthorized" },
      "as is a bad one",
    );

    const lapsed = await open(t, await token("alice", 2));
    const closed = await new Promise<{ code: number; reason: string }>((resolve) =>
      lapsed.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() }))
    );
    t.same(
      closed,
      { code: 4001, reason: "token expired" },
      "without renewal the socket closes at the token's exp",
    );
    t.notOk(renewed.closed, "the renewed socket outlived its first token");
    t.match(await publish(renewed, { id: "late", channel: "chat.x", data: 1 }), {
      op: "ack",
      id: "late",
    });
  });

  t.test("data over the namespace's maxPayloadBytes is too_large", async (t) => {
    const c = await open(t, alice);
    const big = await publish(c, { id: "p1", channel: "tiny.x", data: "x".repeat(100) });
    t.match(big, { op: "error", id: "p1", code: "too_large", message: /allows 64/ });
    t.match(await publish(c, { id: "p2", channel: "tiny.x", data: "x".repeat(40) }), {
      op: "ack",
      id: "p2",
    }, "under it passes");
  });
});

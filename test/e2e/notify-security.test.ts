import t from "tap";
import { freePorts } from "../../devkit/ports.ts";
import { TestClient } from "../../devkit/test-client.ts";
import { spawnService } from "../../devkit/service-process.ts";
import { ask, startSecureStack, upgradeStatus } from "./secure-stack.ts";

const NAMESPACES = `
connections:
  perAddress: 50
  perIdentity: 3
namespaces:
  - name: personal
    channels: "user.{sub}.>"
    subscribe: authenticated
    history: authenticated
`;

t.test("notify with JWT auth: who may connect, subscribe, read history and join presence", async (t) => {
  const s = await startSecureStack(NAMESPACES);
  t.teardown(s.stop);
  const { stack } = s;
  const spyToken = await s.token("spy", { subscribe: ["chat.*"] });
  const aliceToken = await s.token("alice", { subscribe: ["private.alice.>", "room.*"] });

  t.test("upgrade: no token or a bad one is 401, another site's page 403, a valid token opens", async (t) => {
    t.equal(await upgradeStatus(stack.notifyWs), 401, "no token");
    t.equal(await upgradeStatus(`${stack.notifyWs}?token=nonsense`), 401, "a malformed token");
    const expired = await s.token("spy", { subscribe: ["chat.*"], expiresIn: -120 });
    t.equal(await upgradeStatus(`${stack.notifyWs}?token=${expired}`), 401, "an expired token");
    t.equal(
      await upgradeStatus(stack.notifyWs, {
        authorization: `Bearer ${spyToken}`,
        origin: "https://evil.example",
      }),
      403,
      "a foreign Origin",
    );
    t.equal(
      await upgradeStatus(stack.notifyWs, { authorization: `Bearer ${spyToken}` }),
      101,
      "Bearer header",
    );
    t.equal(await upgradeStatus(`${stack.notifyWs}?token=${spyToken}`), 101, "?token=");
  });

  t.test("a token for chat.* may not widen its subscription, and never sees another channel's events", async (t) => {
    const spy = await s.open(spyToken);
    t.teardown(() => spy.close());
    t.match(await ask(spy, { op: "sub", channel: ">", after: "0-0" }, "subscribed"), {
      op: "error",
      code: "forbidden",
      id: ">",
    });
    t.match(await ask(spy, { op: "sub", channel: "chat.>" }, "subscribed"), {
      op: "error",
      code: "forbidden",
    }, "chat.* does not cover chat.>");
    t.match(await ask(spy, { op: "sub", channel: "private.alice.inbox" }, "subscribed"), {
      op: "error",
      code: "forbidden",
    });
    t.match(await ask(spy, { op: "sub", channel: "chat.room1" }, "subscribed"), {
      op: "subscribed",
      channel: "chat.room1",
    }, "the connection stays usable");
    const alice = await s.open(aliceToken);
    t.teardown(() => alice.close());
    t.match(await ask(alice, { op: "sub", channel: "private.alice.>" }, "subscribed"), {
      op: "subscribed",
    });

    await s.publish("private.alice.inbox", { secret: 1 });
    await s.publish("chat.room1", { hello: 1 });
    await spy.next((f) => f.op === "event");
    await alice.next((f) => f.op === "event");
    t.same(
      spy.ofOp("event").map((f) => f.channel),
      ["chat.room1"],
      "the spy gets only its own channel",
    );
    t.same(
      alice.ofOp("event").map((f) => f.channel),
      ["private.alice.inbox"],
      "alice gets her inbox",
    );
  });

  t.test("history: 401 without a token, 403 without permission, 200 with it", async (t) => {
    const url = `${stack.notifyHttp}/v1/history?channel=private.alice.inbox`;
    const none = await fetch(url);
    t.equal(none.status, 401);
    t.match(await none.json(), { op: "error", code: "unauthorized" });
    t.equal((await fetch(`${url}&token=nonsense`)).status, 401, "a bad token");
    const spy = await fetch(url, { headers: { authorization: `Bearer ${spyToken}` } });
    t.equal(spy.status, 403);
    t.match(await spy.json(), { op: "error", code: "forbidden" });
    let page: { events: unknown[] } = { events: [] };
    for (let i = 0; i < 50 && page.events.length === 0; i++) {
      const res = await fetch(url, { headers: { authorization: `Bearer ${aliceToken}` } });
      t.equal(res.status, 200);
      page = await res.json();
      if (page.events.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    t.match(page.events, [{ data: { secret: 1 } }], "alice reads her stored inbox");
    t.equal((await fetch(`${url}&token=${aliceToken}`)).status, 200, "?token= as well");
  });

  t.test("a personal namespace user.{sub}.> is each caller's own", async (t) => {
    const alice = await s.open(aliceToken);
    t.teardown(() => alice.close());
    t.match(await ask(alice, { op: "sub", channel: "user.alice.>" }, "subscribed"), {
      op: "subscribed",
    });
    t.match(await ask(alice, { op: "sub", channel: "user.bob.>" }, "subscribed"), {
      code: "forbidden",
    });
    t.match(await ask(alice, { op: "sub", channel: "user.*.inbox" }, "subscribed"), {
      code: "forbidden",
    }, "a pattern across users");
    const history = await fetch(`${stack.notifyHttp}/v1/history?channel=user.bob.inbox`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    t.equal(history.status, 403);
  });

  t.test("presence: the member is the token's sub, and seeing or joining a channel's presence takes permission", async (t) => {
    const alice = await s.open(aliceToken);
    t.teardown(() => alice.close());
    t.match(
      await ask(alice, { op: "join", channel: "room.vault", member: "bank-admin" }, "joined"),
      { op: "error", code: "forbidden" },
    );
    t.same(await ask(alice, { op: "join", channel: "room.vault", member: "alice" }, "joined"), {
      op: "joined",
      channel: "room.vault",
      member: "alice",
    });
    t.same((await ask(alice, { op: "presence", channel: "room.vault" }, "presence")).members, [
      "alice",
    ], "alice is in, bank-admin is not");
    const spy = await s.open(spyToken);
    t.teardown(() => spy.close());
    t.match(await ask(spy, { op: "presence", channel: "room.vault", watch: true }, "presence"), {
      op: "error",
      code: "forbidden",
    });
    t.match(await ask(spy, { op: "join", channel: "room.vault", member: "spy" }, "joined"), {
      op: "error",
      code: "forbidden",
    });
  });

  t.test("a token that expires unrenewed closes its connection with 4001", async (t) => {
    const short = await s.open(await s.token("spy", { subscribe: ["chat.*"], expiresIn: 2 }));
    const opened = Date.now();
    await short.until(() => short.closed !== undefined, 6000, "the close").catch(() => {});
    t.same(short.closed, { code: 4001, reason: "token expired" });
    t.ok(Date.now() - opened < 4000, "closed at the token's expiry");
    t.match(short.ofOp("error").at(-1), { code: "unauthorized" }, "told why first");
  });

  t.test("an auth frame renews the token past the first one's expiry; a token for someone else is refused", async (t) => {
    const c = await s.open(
      await s.token("alice", { subscribe: ["private.alice.>", "room.*"], expiresIn: 2 }),
    );
    t.teardown(() => c.close());
    t.match(await ask(c, { op: "sub", channel: "private.alice.>" }, "subscribed"), {
      op: "subscribed",
    });
    t.match(await ask(c, { op: "sub", channel: "room.lobby" }, "subscribed"), { op: "subscribed" });
    t.match(
      await ask(c, { op: "auth", token: await s.token("bob", { subscribe: [">"] }) }, "authed"),
      { op: "error", code: "forbidden" },
    );
    t.match(await ask(c, { op: "auth", token: "nonsense" }, "authed"), {
      op: "error",
      code: "unauthorized",
    });
    const renewed = await ask(c, {
      op: "auth",
      token: await s.token("alice", { subscribe: ["private.alice.>"], expiresIn: 60 }),
    }, "authed");
    t.match(renewed, { op: "authed", sub: "alice" });
    t.ok(Number(renewed.expiresAt) > Date.now() + 50_000, "expiresAt is the new token's");
    t.match(await c.next((f) => f.op === "unsubscribed"), {
      channel: "room.lobby",
      code: "forbidden",
    }, "a subscription the new token does not allow ends");
    await new Promise((r) => setTimeout(r, 3000));
    t.equal(c.closed, undefined, "open past the first token's expiry");
    await s.publish("private.alice.renewed", 1);
    t.match(
      await c.next((f) => f.op === "event"),
      { channel: "private.alice.renewed" },
      "and still delivering",
    );
  });

  t.test("connections per identity are capped at the upgrade with 429", async (t) => {
    const bob = await s.token("bob", { subscribe: ["chat.*"] });
    const open = await Promise.all([1, 2, 3].map(() => s.open(bob)));
    t.teardown(() => Promise.all(open.map((c) => c.close())));
    t.equal(await upgradeStatus(`${stack.notifyWs}?token=${bob}`), 429, "a fourth");
    t.equal(
      await upgradeStatus(`${stack.notifyWs}?token=${spyToken}`),
      101,
      "others are not affected",
    );
    await open[0].close();
    await new Promise((r) => setTimeout(r, 100));
    t.equal(
      await upgradeStatus(`${stack.notifyWs}?token=${bob}`),
      101,
      "a closed connection gives its place back",
    );
  });

  t.test("the same checks on Deno, whose upgrades are async as well", async (t) => {
    const [port, opsPort] = await freePorts(2);
    const deno = spawnService("notify", {
      ...stack.serviceEnv("notify"),
      NOTIFY_PORT: String(port),
      NOTIFY_OPS_PORT: String(opsPort),
    }, "deno");
    t.teardown(() => deno.stop());
    await deno.waitForLog(/listening/, 60_000);
    const url = `ws://127.0.0.1:${port}/v1/ws`;
    t.equal(await upgradeStatus(url), 401, "no token");
    t.equal(
      await upgradeStatus(url, {
        authorization: `Bearer ${spyToken}`,
        origin: "https://evil.example",
      }),
      403,
      "a foreign Origin",
    );
    const spy = await TestClient.open(`${url}?token=${spyToken}`);
    t.teardown(() => spy.close());
    t.match(await ask(spy, { op: "sub", channel: ">" }, "subscribed"), {
      op: "error",
      code: "forbidden",
    });
    t.match(await ask(spy, { op: "sub", channel: "chat.room1" }, "subscribed"), {
      op: "subscribed",
    });
  });
});

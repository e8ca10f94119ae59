import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import WebSocket from "ws";
import {
  type ConnectionState,
  JetmeshClient,
  type JetmeshClientError,
  type JetmeshEvent,
} from "../../sdk/mod.ts";
import { startStack } from "../../devkit/in-process-stack.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";

const auth = jwtAuth();
const backoff = { initialMs: 100, maxMs: 500 };
const grants = { publish: ["chat.>"], subscribe: ["chat.>"] };

async function waitFor(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A client of one service whose every getToken call mints a token of `expiresIn` seconds;
 * `calls` counts them.
 */
function renewing(
  url: { ingestUrl: string } | { notifyUrl: string },
  expiresIn: number,
  fail: () => boolean,
) {
  const counter = { calls: 0 };
  const client = new JetmeshClient({
    ...url,
    WebSocket,
    backoff,
    getToken: async () => {
      counter.calls++;
      if (fail()) throw new Error("the auth server is down");
      return await mintToken(auth.secret, "carol", { ...grants, expiresIn });
    },
  });
  const states: ConnectionState[] = [];
  const errors: JetmeshClientError[] = [];
  client.onState((s) => states.push(s));
  client.onError((e) => errors.push(e));
  return { client, counter, states, errors };
}

/** Publishes 0..n-1 on `channel` every `everyMs` and resolves when all are acked. */
async function talk(
  client: JetmeshClient,
  channel: string,
  n: number,
  everyMs: number,
): Promise<void> {
  const acks = [];
  for (let i = 0; i < n; i++) {
    acks.push(client.publish(channel, { i }));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  await Promise.all(acks);
}

const numbers = (events: JetmeshEvent[]) => events.map((e) => (e.data as { i: number }).i);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

t.test("with tokens: publish and subscribe as the token's sub; refusals are typed errors", async (t) => {
  const stack = await startStack(auth.env);
  t.teardown(stack.stop);
  const token = await mintToken(auth.secret, "alice", grants);
  const alice = new JetmeshClient({
    ingestUrl: stack.ingestWs,
    notifyUrl: stack.notifyWs,
    token,
    WebSocket,
    backoff,
  });
  const anonymous = new JetmeshClient({ notifyUrl: stack.notifyWs, WebSocket, backoff });
  t.teardown(() => {
    alice.close();
    anonymous.close();
  });

  const sub = alice.subscribe("chat.room");
  await sub.ready;
  const ack = await alice.publish("chat.room", { i: 0 }, { id: "first" });
  t.same({ id: ack.id, dup: ack.dup }, { id: "first", dup: false }, "acked");
  const [event] = await new Promise<JetmeshEvent[]>((resolve) => sub.onEvent((e) => resolve([e])));
  t.equal(event.id, "alice:first", "the publisher in the event id is the token's sub");

  await t.rejects(
    alice.publish("secret.plans", 1),
    { code: "forbidden" },
    "publishing outside the token's grants: forbidden",
  );
  await t.rejects(
    alice.subscribe("secret.>").ready,
    { code: "forbidden" },
    "subscribing outside them: forbidden",
  );
  await t.rejects(
    anonymous.subscribe("chat.room").ready,
    { code: "unauthorized" },
    "without a token: unauthorized",
  );
  t.equal(alice.state, "open", "refusals leave the connections up");
});

t.test("a token renewed before it expires keeps both connections; getToken again on reconnect and after 4001", async (t) => {
  const stack = await startStack(auth.env);
  t.teardown(stack.stop);
  // Three-second tokens: renewed at half their life, 1.5 s, on the live sockets.
  let authServerDown = false;
  const down = () => authServerDown;
  const pub = renewing({ ingestUrl: stack.ingestWs }, 3, down);
  const sub = renewing({ notifyUrl: stack.notifyWs }, 3, down);
  t.teardown(() => {
    pub.client.close();
    sub.client.close();
  });
  const seen: JetmeshEvent[] = [];
  await sub.client.subscribe("chat.renew", { onEvent: (e) => seen.push(e) }).ready;
  await waitFor("open", () => pub.client.state === "open");

  // 8 s: each connection's token renewed about five times, not one reconnect.
  const before = [pub.counter.calls, sub.counter.calls];
  await talk(pub.client, "chat.renew", 40, 200);
  await waitFor("every event", () => seen.length >= 40);
  t.same(numbers(seen), range(40), "every event once, in order, while the tokens were renewed");
  t.ok(
    pub.counter.calls - before[0] >= 3,
    `ingest's token was renewed ${pub.counter.calls - before[0]} times in 8 s`,
  );
  t.ok(
    sub.counter.calls - before[1] >= 3,
    `notify's token was renewed ${sub.counter.calls - before[1]} times in 8 s`,
  );
  t.same([...pub.states, ...sub.states], ["open", "open"], "no connection was lost");
  t.same([...pub.errors, ...sub.errors], [], "no token problem");

  // notify goes away for longer than a token lives: the reconnect needs, and gets, a new one.
  await stack.stopService("notify");
  const atStop = sub.counter.calls;
  await new Promise((r) => setTimeout(r, 3500));
  await stack.startService("notify");
  await waitFor("open again", () => sub.client.state === "open", 30_000);
  t.ok(
    sub.counter.calls > atStop,
    `getToken was called for the reconnect (${
      sub.counter.calls - atStop
    } times while notify was down)`,
  );
  await talk(pub.client, "chat.renew", 5, 50);
  await waitFor("events after the reconnect", () => seen.length >= 45);
  t.same(numbers(seen.slice(40)), range(5), "the subscription resumed");

  // The auth server is down past expiry: renewals fail, the server closes with 4001, the client
  // says why, and once getToken works again it reconnects with a new token.
  const lost = sub.states.length;
  sub.errors.length = 0;
  authServerDown = true;
  await waitFor("closed for expiry", () => sub.states.slice(lost).includes("reconnecting"), 10_000);
  t.ok(
    sub.errors.some((e) => e.code === "unauthorized" && /getToken failed/.test(e.message)),
    "the failing getToken was reported",
    { errors: sub.errors.map((e) => e.message) },
  );
  authServerDown = false;
  await waitFor(
    "open after the expiry",
    () => sub.client.state === "open" && pub.client.state === "open",
    20_000,
  );
  await talk(pub.client, "chat.renew", 5, 50);
  await waitFor("events after 4001", () => seen.length >= 50);
  t.same(numbers(seen.slice(45)), range(5), "and the subscription resumed again");
});

t.test("without getToken an expired token ends the client with unauthorized, not a reconnect loop", async (t) => {
  const stack = await startStack(auth.env);
  t.teardown(stack.stop);
  const token = await mintToken(auth.secret, "dave", { ...grants, expiresIn: 2 });
  const client = new JetmeshClient({ notifyUrl: stack.notifyWs, token, WebSocket, backoff });
  t.teardown(() => client.close());
  const errors: JetmeshClientError[] = [];
  client.onError((e) => errors.push(e));
  const sub = client.subscribe("chat.short");
  await sub.ready;
  const ended = new Promise<Error>((resolve) => sub.onError(resolve));
  await waitFor("closed", () => client.state === "closed", 10_000);
  t.match(
    errors,
    [{ code: "unauthorized", message: /token expired and there is no getToken/ }],
    "the application is told why",
  );
  t.match(await ended, { code: "unauthorized" }, "the subscription ends with the same error");
});

t.test("rate_limited publishes are sent again after retryAfterMs, still one per channel on the wire, in order", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jm-ns-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "namespaces.yaml");
  writeFileSync(
    file,
    'namespaces:\n  - name: slow\n    channels: "chat.slow"\n    limits: { publishRate: { perSecond: 4, burst: 2 } }\n',
  );
  const stack = await startStack({ ...auth.env, JETMESH_NAMESPACES: file });
  t.teardown(stack.stop);
  const token = await mintToken(auth.secret, "erin", grants);
  const client = new JetmeshClient({
    ingestUrl: stack.ingestWs,
    notifyUrl: stack.notifyWs,
    token,
    WebSocket,
    backoff,
  });
  t.teardown(() => client.close());
  const seen: JetmeshEvent[] = [];
  await client.subscribe("chat.slow", { onEvent: (e) => seen.push(e) }).ready;
  const began = Date.now();
  const acks = await Promise.all(range(10).map((i) => client.publish("chat.slow", { i })));
  const took = Date.now() - began;
  t.equal(acks.filter((a) => !a.dup).length, 10, "every publish acked once");
  // A burst of 2, then 4 per second: the other 8 take about 2 s.
  t.ok(took >= 1500, `paced by the limit: ${took} ms for 10 at 4/s after a burst of 2`);
  await waitFor("every event", () => seen.length >= 10);
  t.same(numbers(seen), range(10), "stored in publish order");
});

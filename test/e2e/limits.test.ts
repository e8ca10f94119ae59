import t from "tap";
import WebSocket from "ws";
import { startStack } from "../../devkit/in-process-stack.ts";
import { TestClient } from "../../devkit/test-client.ts";

/**
 * Tries an upgrade; resolves with the refusal's status and JSON body, or undefined when it was
 * accepted.
 */
function refusal(
  url: string,
): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("open", () => {
      ws.close();
      resolve(undefined);
    });
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }));
    });
    ws.once("error", (err) => {
      if (!/Unexpected server response/.test(String(err))) reject(err);
    });
  });
}

t.test("connections per process and subscriptions per connection are capped with clear errors", async (t) => {
  const stack = await startStack({ NOTIFY_MAX_CONNECTIONS: "3", NOTIFY_MAX_SUBSCRIPTIONS: "2" });
  t.teardown(stack.stop);

  const open = await Promise.all([1, 2, 3].map(() => TestClient.open(stack.notifyWs)));
  const refused = await refusal(stack.notifyWs);
  t.equal(refused?.status, 503, "the fourth upgrade is refused with 503");
  t.match(
    refused?.body,
    { op: "error", code: "unavailable", message: /limit of 3 connections/ },
    "with a JSON error naming the limit",
  );
  await open[0].close();
  await new Promise((r) => setTimeout(r, 100));
  t.equal(await refusal(stack.notifyWs), undefined, "a closed connection frees its place");

  const c = open[1];
  for (const channel of ["a", "b"]) {
    c.sendJson({ op: "sub", channel });
    await c.next((f) => f.op === "subscribed" && f.channel === channel);
  }
  let n = c.frames.length;
  c.sendJson({ op: "sub", channel: "c" });
  t.match(await c.next(() => true, n), {
    op: "error",
    id: "c",
    code: "limit_exceeded",
    message: /at most 2 subscriptions/,
  }, "a third subscription is refused");
  n = c.frames.length;
  c.sendJson({ op: "sub", channel: "a", after: "1-0" });
  t.match(
    await c.next(() => true, n),
    { op: "subscribed", channel: "a" },
    "re-subscribing an existing channel is no new subscription",
  );
  c.sendJson({ op: "unsub", channel: "b" });
  n = c.frames.length;
  c.sendJson({ op: "sub", channel: "c" });
  t.match(
    await c.next((f) => f.op !== "unsubscribed", n),
    { op: "subscribed", channel: "c" },
    "an unsub frees a place",
  );

  for (const channel of ["r1", "r2"]) {
    c.sendJson({ op: "join", channel, member: "m" });
    await c.next((f) => f.op === "joined" && f.channel === channel);
  }
  n = c.frames.length;
  c.sendJson({ op: "join", channel: "r3", member: "m" });
  t.match(await c.next(() => true, n), {
    op: "error",
    id: "r3",
    code: "limit_exceeded",
    message: /joined channels/,
  }, "joins are capped too");
  for (const o of open.slice(1)) await o.close();
});

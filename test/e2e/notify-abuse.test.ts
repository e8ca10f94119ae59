import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import type { Frame, TestClient } from "../../devkit/test-client.ts";
import { ask, startSecureStack } from "./secure-stack.ts";

const NAMESPACES = `
defaults:
  commandRate: { perSecond: 20, burst: 40 }
namespaces:
  - name: old
    channels: "old.>"
    limits: { replay: { maxAge: 1s } }
  - name: paced
    channels: "paced.>"
    limits: { replay: { eventsPerSecond: 20 } }
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (c: TestClient, pred: (f: Frame) => boolean) => c.frames.filter(pred).length;
const isCode = (code: string) => (f: Frame) => f.op === "error" && f.code === code;
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

t.test("one abusive subscriber connection is bounded: commands, queued frames, replays", async (t) => {
  const s = await startSecureStack(NAMESPACES);
  t.teardown(s.stop);
  const { stack } = s;
  for (let i = 0; i < 10; i++) await s.publish("chat.room1", { i });
  const nc = await connect({ servers: stack.nats.url, ...stack.admin });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const apiCalls = async () => (await jsm.getAccountInfo()).api.total;

  t.test("2000 sub frames replaying from 0-0: most are refused, few subscriptions, few events", async (t) => {
    const c = await s.open(await s.token("flooder", { subscribe: ["chat.*"] }));
    t.teardown(() => c.close());
    const started = Date.now();
    for (let i = 0; i < 2000; i++) c.sendJson({ op: "sub", channel: "chat.room1", after: "0-0" });
    const answered = () => count(c, (f) => f.op === "subscribed" || f.op === "error");
    await c.until(() => answered() >= 2000, 60_000, "2000 answers");
    const elapsed = (Date.now() - started) / 1000;
    await sleep(1000);
    const subscribed = count(c, (f) => f.op === "subscribed");
    const limited = count(c, isCode("rate_limited"));
    const overloaded = count(c, isCode("overloaded"));
    const events = count(c, (f) => f.op === "event");
    t.comment(
      `2000 subs in ${
        elapsed.toFixed(1)
      } s: ${subscribed} subscribed, ${limited} rate_limited, ${overloaded} overloaded, ${events} events pushed`,
    );
    t.equal(subscribed + limited + overloaded, 2000, "every frame is answered");
    t.ok(
      subscribed <= 40 + 20 * elapsed + 1,
      "no more subscriptions than the namespace's command rate allows",
    );
    t.ok(events <= 10 * subscribed, "each accepted re-subscribe replays the channel once at most");
    t.ok(limited > 0, "rate_limited answers come");
    t.match(c.frames.find(isCode("rate_limited")), { retryAfterMs: Number }, "with a retry hint");
    t.equal(c.closed, undefined, "and the connection stays");
  });

  t.test("5000 large sub frames, then the client leaves: bounded memory, no JetStream work after", async (t) => {
    const c = await s.open(await s.token("bloater", { subscribe: ["chat.*"] }));
    const frame = JSON.stringify({
      op: "sub",
      channel: "chat.room1",
      after: "0-0",
      pad: "x".repeat(15_000),
    });
    const before = process.memoryUsage();
    let peak = { rss: before.rss, heapUsed: before.heapUsed };
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peak = { rss: Math.max(peak.rss, m.rss), heapUsed: Math.max(peak.heapUsed, m.heapUsed) };
    }, 10);
    // In batches written out before the next, so the client's own buffers (in this process
    // too) stay small.
    for (let i = 0; i < 5000; i += 100) {
      await new Promise<void>((resolve) => {
        for (let j = 0; j < 100; j++) c.ws.send(frame, j === 99 ? () => resolve() : undefined);
      });
    }
    await c.close();
    const left = await apiCalls();
    await sleep(3000);
    const after = await apiCalls();
    clearInterval(sampler);
    const idleBefore = await apiCalls();
    await sleep(3000);
    const idle = (await apiCalls()) - idleBefore;
    t.comment(
      `5000 × 15 KB sub frames: peak RSS +${mib(peak.rss - before.rss)} MiB, peak heap +${
        mib(peak.heapUsed - before.heapUsed)
      } MiB; JetStream API calls in the 3 s after the client left: ${
        after - left
      } (idle stack: ${idle})`,
    );
    // Unbounded, the frames' queue alone held 75 MB; here at most 64 frames wait.
    t.ok(peak.heapUsed - before.heapUsed < 30 * 2 ** 20, "the heap grew by less than 30 MiB");
    t.ok(
      after - left <= 50,
      "no JetStream work for a client that left (the other services make a few calls meanwhile)",
    );
  });

  t.test("a cursor older than the namespace's replay maxAge ends the subscription with limit_exceeded", async (t) => {
    const token = await s.token("reader", { subscribe: ["old.>", "paced.>"] });
    const live = await s.open(token);
    t.teardown(() => live.close());
    const { cursor } = await ask(live, { op: "sub", channel: "old.a" }, "subscribed");
    await s.publish("old.a", 1);
    const ev = await live.next((f) => f.op === "event");
    await sleep(1500);
    const late = await s.open(token);
    t.teardown(() => late.close());
    t.match(await ask(late, { op: "sub", channel: "old.a", after: cursor }, "subscribed"), {
      op: "subscribed",
    });
    const ended = await late.next((f) => f.op === "unsubscribed");
    t.match(ended, {
      channel: "old.a",
      code: "limit_exceeded",
      message: /namespace old replays \(1s\)/,
    });
    t.equal(count(late, (f) => f.op === "event"), 0, "nothing was replayed");
    t.match(await ask(late, { op: "sub", channel: "old.a", after: ev.cursor }, "subscribed"), {
      op: "subscribed",
    }, "a cursor with nothing to replay is fine");
  });

  t.test("a catch-up goes at the namespace's replay eventsPerSecond", async (t) => {
    const token = await s.token("reader", { subscribe: ["paced.>"] });
    const live = await s.open(token);
    t.teardown(() => live.close());
    const { cursor } = await ask(live, { op: "sub", channel: "paced.a" }, "subscribed");
    for (let i = 0; i < 60; i++) await s.publish("paced.a", i);
    await live.until(() => count(live, (f) => f.op === "event") >= 60, 15_000, "60 live events");
    const late = await s.open(token);
    t.teardown(() => late.close());
    await ask(late, { op: "sub", channel: "paced.a", after: cursor }, "subscribed");
    const started = Date.now();
    await late.until(
      () => count(late, (f) => f.op === "event") >= 60,
      15_000,
      "60 replayed events",
    );
    const took = Date.now() - started;
    t.comment(`60 events replayed at 20/s (20 at once) in ${took} ms`);
    t.ok(took >= 1500, "paced: 40 events beyond the first second's worth took about 2 s");
    t.same(
      late.ofOp("event").map((f) => f.data),
      live.ofOp("event").map((f) => f.data),
      "all of them, in order",
    );
  });

  t.test("history beyond the command rate is 429 with Retry-After", async (t) => {
    const token = await s.token("pager", { subscribe: ["chat.*"] });
    const url = `${stack.notifyHttp}/v1/history?channel=chat.room1&limit=1`;
    const started = performance.now();
    const statuses = await Promise.all(
      Array.from(
        { length: 60 },
        () => fetch(url, { headers: { authorization: `Bearer ${token}` } }),
      ),
    );
    // The bucket refills 20 tokens a second while the 60 requests land: on a
    // loaded machine that is a token or two more than the burst.
    const refilled = Math.ceil(((performance.now() - started) / 1000) * 20);
    const passed = statuses.filter((r) => r.status === 200).length;
    const limited = statuses.filter((r) => r.status === 429);
    t.ok(
      passed >= 40 && passed <= 40 + refilled,
      `the burst passes (${passed}, refill ${refilled})`,
    );
    t.equal(limited.length, 60 - passed, "the rest is refused");
    t.ok(limited.length >= 1, "something was refused");
    t.ok(Number(limited[0].headers.get("retry-after")) >= 1, "Retry-After in seconds");
    t.match(await limited[0].json(), { op: "error", code: "rate_limited", retryAfterMs: Number });
  });
});

import postgres from "postgres";
import t from "tap";
import WebSocket from "ws";
import { type Stack, startStack } from "../../devkit/in-process-stack.ts";
import { isMarker, publishMarkers, TestClient } from "../../devkit/test-client.ts";

/** About 40 KB of JSON per event, so a few hundred fill the kernel's socket buffers quickly. */
const BIG = "x".repeat(40_000);

interface Reader {
  ws: WebSocket;
  frames: Array<Record<string, unknown>>;
  closed: Promise<{ code: number; reason: string }>;
}

function reader(url: string, subs: Array<Record<string, unknown>>): Promise<Reader> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames: Array<Record<string, unknown>> = [];
    const closed = new Promise<{ code: number; reason: string }>((r) =>
      ws.on("close", (code, reason) => r({ code, reason: String(reason) }))
    );
    ws.on("message", (data) => frames.push(JSON.parse(String(data))));
    ws.once("error", reject);
    ws.once("open", () => {
      for (const s of subs) ws.send(JSON.stringify(s));
      resolve({ ws, frames, closed });
    });
  });
}

async function publish(
  ingestWs: string,
  channels: string[],
  perChannel: number,
): Promise<string[]> {
  const pub = await TestClient.open(`${ingestWs}?publisher=p`);
  const ids: string[] = [];
  for (let i = 0; i < perChannel; i++) {
    for (const channel of channels) {
      const id = `${channel}-${i}`;
      ids.push(`p:${id}`);
      pub.sendJson({ op: "pub", id, channel, data: BIG });
    }
    // Keep ingest's in-flight window small.
    if (i % 20 === 19) await pub.until((fs) => fs.length >= ids.length, 30_000, "acks");
  }
  await pub.until((fs) => fs.length >= ids.length, 30_000, "acks");
  await pub.close();
  return ids;
}

/** Event frames, without the markers `resume` ends its wait with. */
const events = (frames: Array<Record<string, unknown>>) =>
  frames.filter((f) => f.op === "event" && !isMarker(f.id));

/**
 * Ingest acks before the rest of the pipeline has the events: waits until
 * persist stored them all, then gives notify (as quick as persist) time to
 * push them at the paused reader and to act on its limits.
 */
async function throughPipeline(stack: Stack, count: number): Promise<void> {
  const sql = postgres(stack.db.url, { max: 1, onnotice: () => {} });
  try {
    for (let i = 0; i < 600; i++) {
      const [{ n }] = await sql`select count(*)::int as n from ${sql(stack.db.schema)}.events`;
      if (n >= count) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await sql.end();
  }
  await new Promise((r) => setTimeout(r, 3000));
}

/** Waits for `p`, or fails saying what the reader had received by then. */
async function within<T>(what: string, p: Promise<T>, r: Reader, ms = 60_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `${what}: nothing after ${ms} ms; ${r.frames.length} frames, last ${
              JSON.stringify(r.frames.at(-1))?.slice(0, 120)
            }`,
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function subscribedAll(r: Reader, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (r.frames.length < count) {
    if (Date.now() > deadline) {
      throw new Error(`${r.frames.length} of ${count} subscriptions answered`);
    }
    await new Promise((res) => setTimeout(res, 10));
  }
}

/**
 * Resubscribes after the last cursor each channel saw and collects until `want`
 * events in all, then until a marker published on each channel afterwards has
 * arrived: a duplicate after the `want`-th event would arrive before it.
 */
async function resume(
  ingestWs: string,
  url: string,
  channels: string[],
  seen: Array<Record<string, unknown>>,
  want: number,
) {
  const last = new Map<string, unknown>();
  for (const f of events(seen)) last.set(f.channel as string, f.cursor);
  const r = await reader(
    url,
    channels.map((channel) => ({
      op: "sub",
      channel,
      after: last.get(channel) ??
        seen.find((f) => f.op === "subscribed" && f.channel === channel)?.cursor,
    })),
  );
  const deadline = Date.now() + 30_000;
  while (events(seen).length + events(r.frames).length < want && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 50));
  }
  const markers = await publishMarkers(ingestWs, channels);
  const through = () => markers.every((id) => r.frames.some((f) => f.id === id));
  while (!through() && Date.now() < deadline + 15_000) {
    await new Promise((res) => setTimeout(res, 50));
  }
  r.ws.close();
  if (!through()) throw new Error(`the markers ${markers} did not arrive after resuming`);
  return events(r.frames);
}

t.test("a subscriber that stays paused too long is told why, closed with 4008, and resumes without loss", async (t) => {
  const stack = await startStack({ NOTIFY_MAX_BUFFERED_BYTES: "65536", NOTIFY_MAX_PAUSE: "1s" });
  t.teardown(stack.stop);
  const r = await reader(stack.notifyWs, [{ op: "sub", channel: "slow" }]);
  await subscribedAll(r, 1);
  r.ws.pause();
  const ids = await publish(stack.ingestWs, ["slow"], 400);
  await throughPipeline(stack, ids.length);
  // Reading again after the server gave up: whatever it had queued still arrives, then the verdict.
  r.ws.resume();
  const closed = await within("the close", r.closed, r);
  t.equal(closed.code, 4008, "closed with 4008");
  t.equal(closed.reason, "slow consumer", "close reason");
  const err = r.frames.find((f) => f.op === "error");
  t.match(
    err,
    { code: "slow_consumer", message: /stayed over 65536 queued bytes for 1000 ms/ },
    "an error frame says why",
  );
  t.ok(
    events(r.frames).length < ids.length,
    `cut off after ${events(r.frames).length} of ${ids.length} events`,
  );
  const rest = await resume(stack.ingestWs, stack.notifyWs, ["slow"], r.frames, ids.length);
  t.same(
    [...events(r.frames), ...rest].map((f) => f.id),
    ids,
    "resuming by cursor gets the rest: nothing lost, nothing twice",
  );
});

t.test("a connection whose queue passes the hard bound is closed at once with 4008", async (t) => {
  // 20 subscriptions may each queue one event past the pause bound: more than the hard bound.
  const stack = await startStack({
    NOTIFY_MAX_BUFFERED_BYTES: "65536",
    NOTIFY_DISCONNECT_BUFFERED_BYTES: "262144",
    NOTIFY_MAX_PAUSE: "1m",
  });
  t.teardown(stack.stop);
  const channels = Array.from({ length: 20 }, (_, i) => `hard.c${i}`);
  const r = await reader(stack.notifyWs, channels.map((channel) => ({ op: "sub", channel })));
  await subscribedAll(r, channels.length);
  r.ws.pause();
  const ids = await publish(stack.ingestWs, channels, 30);
  await throughPipeline(stack, ids.length);
  r.ws.resume();
  const closed = await within("the close", r.closed, r);
  t.equal(closed.code, 4008, "closed with 4008");
  t.match(r.frames.find((f) => f.op === "error"), {
    code: "slow_consumer",
    message: /more than 262144 bytes were waiting/,
  }, "an error frame says why");
  const rest = await resume(stack.ingestWs, stack.notifyWs, channels, r.frames, ids.length);
  const got = [...events(r.frames), ...rest];
  for (const c of channels) {
    t.same(
      got.filter((f) => f.channel === c).map((f) => f.id),
      ids.filter((id) => id.startsWith(`p:${c}-`)),
      `${c}: everything once, in order`,
    );
  }
});

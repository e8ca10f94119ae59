/**
 * End-to-end smoke check against running services (e.g. `make run-local`):
 * POST one event to ingest's /v1/publish, then poll notify's /v1/history until
 * the event is there (it went ingest → route → persist → PostgreSQL), both
 * with a token; then check that a subscribe without a token is refused and
 * that ingest takes WebSockets from the chat page's origin (notify's) but not
 * from another site's.
 *
 *   node --import tsx infra/local/smoke.ts [INGEST_URL] [NOTIFY_URL]
 *
 * Defaults: SMOKE_INGEST_URL or http://localhost:$INGEST_PORT (8080),
 * SMOKE_NOTIFY_URL or http://localhost:$NOTIFY_PORT (8081). SMOKE_TOKEN is the
 * token (Authorization: Bearer), by default one for `smoke` from notify's
 * /dev/token; SMOKE_CHANNEL (default user.smoke.check, which that token may
 * use), SMOKE_TIMEOUT_MS (default 30000). Each run publishes a
 * new id (smoke-<time>), so a rerun proves the path again instead of finding
 * an old event. With SMOKE_JAEGER_URL (Jaeger's UI and query API; `make smoke`
 * sets it when it started one) the event's trace must also be found there,
 * with ingest's, route's and persist's spans. Exits 0 when all was read back,
 * 1 otherwise.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { checkAnonymousSubscribe, checkOrigins, smokeToken } from "./smoke-auth.ts";

const env = process.env;
const ingest =
  (process.argv[2] || env.SMOKE_INGEST_URL || `http://localhost:${env.INGEST_PORT || 8080}`)
    .replace(/\/+$/, "");
const notify =
  (process.argv[3] || env.SMOKE_NOTIFY_URL || `http://localhost:${env.NOTIFY_PORT || 8081}`)
    .replace(/\/+$/, "");
const channel = env.SMOKE_CHANNEL || "user.smoke.check";
const timeoutMs = Number(env.SMOKE_TIMEOUT_MS || 30_000);
const id = env.SMOKE_ID || `smoke-${Date.now()}`;
const data = { hello: "world", at: new Date().toISOString() };

interface Ack {
  op?: string;
  id?: string;
  seq?: number;
  dup?: boolean;
  code?: string;
  message?: string;
}
interface HistoryEvent {
  id: string;
  cursor: string;
  ts: number;
  data: unknown;
}
interface HistoryPage {
  channel: string;
  events: HistoryEvent[];
  next: string | null;
}

function fail(msg: string): never {
  console.error(`smoke: FAIL ${msg}`);
  process.exit(1);
}

async function request(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; body: unknown; text: string }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new Error(
      `${init?.method ?? "GET"} ${url}: ${
        err instanceof Error
          ? (err.cause as Error | undefined)?.message ?? err.message
          : String(err)
      }`,
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

const started = Date.now();
console.log(`smoke: ingest ${ingest}, notify ${notify}, channel ${channel}, id ${id}`);

// 1. Publish, with a token (notify's /dev/token may not answer yet while the services start).
let token = "";
for (;;) {
  try {
    token = await smokeToken(notify, "smoke", env.SMOKE_TOKEN);
    break;
  } catch (err) {
    if (Date.now() - started > timeoutMs) fail(String(err instanceof Error ? err.message : err));
  }
  await sleep(500);
}
const authorization = `Bearer ${token}`;
const headers: Record<string, string> = {
  "content-type": "application/json",
  accept: "application/json",
  authorization,
};
let ack: Ack;
for (;;) {
  // Retry while the services are still starting (connection refused / 503).
  try {
    const r = await request(`${ingest}/v1/publish`, {
      method: "POST",
      headers,
      body: JSON.stringify({ id, channel, data }),
    });
    if (r.status === 200 && typeof r.body === "object" && r.body !== null) {
      ack = r.body as Ack;
      break;
    }
    if (r.status !== 503 || Date.now() - started > timeoutMs) {
      fail(`POST /v1/publish: ${r.status} ${r.text}`);
    }
  } catch (err) {
    if (Date.now() - started > timeoutMs) fail(String(err instanceof Error ? err.message : err));
  }
  await sleep(500);
}
if (ack.op !== "ack" || ack.id !== id || typeof ack.seq !== "number") {
  fail(`unexpected publish answer ${JSON.stringify(ack)}`);
}
console.log(`smoke: published ${JSON.stringify(ack)} in ${Date.now() - started} ms`);

// 2. Read back. History is oldest first; keep the cursor so each poll reads only new events.
let after = "";
let found: HistoryEvent | undefined;
let polls = 0;
let lastProblem = "";
while (!found) {
  if (Date.now() - started > timeoutMs) {
    fail(
      `event ${id} not in ${notify}/v1/history?channel=${channel} after ${timeoutMs} ms (${polls} polls${
        lastProblem ? `; last: ${lastProblem}` : ""
      })`,
    );
  }
  polls++;
  try {
    const q = new URLSearchParams({ channel, limit: "1000" });
    if (after) q.set("after", after);
    const r = await request(`${notify}/v1/history?${q}`, {
      headers: { accept: "application/json", authorization },
    });
    if (r.status !== 200) {
      lastProblem = `${r.status} ${r.text.slice(0, 200)}`;
    } else {
      const page = r.body as HistoryPage;
      if (!Array.isArray(page?.events)) fail(`unexpected history answer ${r.text.slice(0, 300)}`);
      found = page.events.find((e) => e.id === id || e.id.endsWith(`:${id}`));
      if (found) break;
      if (page.next) after = page.next;
      if (page.events.length > 0) continue; // more pages may follow at once
    }
  } catch (err) {
    lastProblem = String(err instanceof Error ? err.message : err);
  }
  await sleep(250);
}
console.log(`smoke: read back ${JSON.stringify(found)}`);
if (JSON.stringify((found.data as { hello?: unknown })?.hello) !== JSON.stringify(data.hello)) {
  fail(`data differs: sent ${JSON.stringify(data)}, got ${JSON.stringify(found.data)}`);
}
console.log(`smoke: OK publish → history in ${Date.now() - started} ms`);

// 3. The edges refuse who they should.
try {
  console.log(
    `smoke: OK no token, no subscription: ${await checkAnonymousSubscribe(notify, channel)}`,
  );
  const anonymousHistory = await request(`${notify}/v1/history?channel=${channel}`);
  if (anonymousHistory.status !== 401) {
    fail(`history without a token answered ${anonymousHistory.status}, not 401`);
  }
  console.log(`smoke: OK origins at ingest: ${await checkOrigins(ingest, notify, token)}`);
} catch (err) {
  fail(String(err instanceof Error ? err.message : err));
}

// 4. The trace, found the way the UI's search finds it. The services export every 5 s.
const jaeger = env.SMOKE_JAEGER_URL?.replace(/\/+$/, "");
if (jaeger) {
  const hops = ["ingest publish", "route relay", "persist write"];
  const q = new URLSearchParams({
    service: "jetmesh-ingest",
    tags: JSON.stringify({ "jetmesh.event.id": found.id }),
    lookback: "1h",
  });
  const deadline = Date.now() + timeoutMs;
  let names: string[] = [];
  let traceId = "";
  while (!hops.every((h) => names.includes(h))) {
    if (Date.now() > deadline) {
      fail(
        `trace of ${found.id} not complete in ${jaeger}/api/traces?${q} after ${timeoutMs} ms (spans: ${
          names.join(", ") || "none"
        }${lastProblem ? `; last: ${lastProblem}` : ""})`,
      );
    }
    await sleep(500);
    try {
      const r = await request(`${jaeger}/api/traces?${q}`);
      const [trace] =
        (r.body as { data?: { traceID: string; spans: { operationName: string }[] }[] } | undefined)
          ?.data ?? [];
      if (r.status !== 200) lastProblem = `${r.status} ${r.text.slice(0, 200)}`;
      names = trace?.spans.map((s) => s.operationName) ?? [];
      traceId = trace?.traceID ?? "";
    } catch (err) {
      lastProblem = String(err instanceof Error ? err.message : err);
    }
  }
  console.log(`smoke: OK trace ${traceId} in Jaeger: ${hops.join(" → ")}`);
}
process.exit(0);

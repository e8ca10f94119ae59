/**
 * Fuzzes both edges at once (ingest and notify WebSockets, POST /v1/publish
 * bodies, GET /v1/history queries) on one stack while a well-behaved
 * publisher/subscriber pair exchanges events beside them. FUZZ_FRAMES sets the
 * frames per WebSocket (`make test-fuzz` sends 100,000); FUZZ_SEED replays a run.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { packValue } from "../../internal/codec/mod.ts";
import { startStack } from "../../devkit/in-process-stack.ts";
import { SERVICE_NAMES } from "../../devkit/catalog.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";
import { startBystanders } from "./bystanders.ts";
import {
  type FuzzFrame,
  nextAuthorization,
  nextFrame,
  nextHistoryQuery,
  nextPublishBody,
  type TokenPool,
} from "./gen.ts";
import { mib, settledMemory } from "./memory.ts";
import { fuzzHttp, fuzzWebSocket, type Probe, type Stats, type WsFuzz } from "./runner.ts";

function envInt(name: string, fallback: number): number {
  const given = process.env[name];
  if (given === undefined || given === "") return fallback;
  const n = Number(given);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new Error(`${name} must be an integer from 0 to 4294967295, got ${given}`);
  }
  return n;
}

const SEED = envInt("FUZZ_SEED", Math.floor(Math.random() * 0xffffffff));
const FRAMES = envInt("FUZZ_FRAMES", 2000);
/**
 * HTTP requests cost more than frames (a request parsed and a response each); a quarter as many.
 */
function requestsFor(frames: number): number {
  return Math.ceil(frames / 4);
}
const WARM_UP = 200;
console.log(
  `FUZZ_SEED=${SEED} FUZZ_FRAMES=${FRAMES} (replay with FUZZ_SEED=${SEED} FUZZ_FRAMES=${FRAMES})`,
);

/** One seed per fuzzer, so each replays the same input whatever the others do. */
function seedOf(k: number): number {
  return (SEED + Math.imul(k, 0x9e3779b9)) >>> 0;
}

/**
 * Rates high enough that the fuzzers reach the parser, and one namespace slow
 * enough that some frames are rate_limited; it is open to anonymous callers,
 * so requests without a token get past authentication there.
 */
const NAMESPACES = `
defaults:
  publishRate: { perSecond: 1000000, burst: 1000000 }
  commandRate: { perSecond: 1000000, burst: 1000000 }
namespaces:
  - name: slow
    channels: "slow.>"
    publish: anonymous
    subscribe: anonymous
    limits:
      publishRate: { perSecond: 1, burst: 2 }
      commandRate: { perSecond: 1, burst: 2 }
`;

const INGEST_FRAME_BYTES = 64 * 1024;
const NOTIFY_FRAME_BYTES = 16 * 1024;

function framed(kind: string, v: unknown, msgpack: boolean): FuzzFrame {
  return msgpack
    ? { kind, payload: packValue(v), binary: true }
    : { kind, payload: JSON.stringify(v), binary: false };
}

const CURSOR = /^\d+-\d+$/;

/**
 * What each publisher's token grants: the fuzzing identity, the bystander,
 * and another identity whose valid token the fuzzers send where it must not
 * work (an `auth` frame, or HTTP requests on channels it has no grant for).
 */
const GRANTS: Record<string, string[]> = {
  fuzz: ["f.>", "probe.>"],
  calm: ["calm.>"],
  mallory: ["m.>"],
};
/** The slow namespace lets anyone publish, with or without a token. */
const OPEN_TO_ALL = ["slow.>"];

interface Tokens extends TokenPool {
  fuzz: string;
  calm: string;
  watcher: string;
}

/**
 * The identities of the run, and tokens that must be refused: garbage, alg none, another key,
 * expired, cut, with forged claims.
 */
async function tokensFor(secret: string): Promise<Tokens> {
  const fuzz = await mintToken(secret, "fuzz", { publish: GRANTS.fuzz, subscribe: [">"] });
  const [header, , signature] = fuzz.split(".");
  const forged = Buffer.from(
    JSON.stringify({ sub: "fuzz", exp: 4102444800, jetmesh: { publish: [">"], subscribe: [">"] } }),
  ).toString("base64url");
  const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${forged}.`;
  return {
    self: "fuzz",
    fuzz,
    calm: await mintToken(secret, "calm", { publish: GRANTS.calm, subscribe: GRANTS.calm }),
    watcher: await mintToken(secret, "watcher", { subscribe: [">"] }),
    invalid: [
      "",
      "garbage",
      "a.b.c",
      none,
      `${header}.${forged}.${signature}`,
      fuzz.slice(0, -3),
      await mintToken(jwtAuth().secret, "fuzz", { publish: [">"], subscribe: [">"] }),
      await mintToken(secret, "fuzz", { publish: [">"], subscribe: [">"], expiresIn: -3600 }),
    ],
    otherSub: [await mintToken(secret, "mallory", { publish: GRANTS.mallory, subscribe: [">"] })],
  };
}

function withToken(url: string, token: string): string {
  return `${url}?token=${encodeURIComponent(token)}`;
}

/** Renewing with the connection's own token: the `authed` answer. */
function renewal(token: string, msgpack: boolean): Probe {
  return {
    frame: framed("probe-auth", { op: "auth", token }, msgpack),
    check: (a) =>
      a.op === "authed" && a.sub === "fuzz" && typeof a.expiresAt === "number"
        ? undefined
        : "expected authed for fuzz",
  };
}

function ingestFuzz(url: string, seed: number, frames: number, tokens: Tokens): WsFuzz {
  return {
    name: "ingest ws",
    url: withToken(url, tokens.fuzz),
    seed,
    frames,
    next: (rng) =>
      nextFrame(rng, {
        service: "ingest",
        maxFrameBytes: INGEST_FRAME_BYTES,
        closeAbove: Math.max(4 * INGEST_FRAME_BYTES, 1024 * 1024),
        tokens,
      }),
    // No fuzz frame carries a token the connection may renew with: `authed` would be a hole.
    answerOps: new Set(["ack"]),
    asideOps: new Set(),
    onOpen: [],
    probe: (n): Probe => {
      if (n % 3 === 2) return renewal(tokens.fuzz, n % 2 === 1);
      const id = `probe-${seed}-${n}`;
      return {
        frame: framed(
          "probe-pub",
          { op: "pub", id, channel: "probe.ingest", data: { n } },
          n % 2 === 1,
        ),
        check: (a) =>
          a.op === "ack" && a.id === id && typeof a.seq === "number" && a.dup === false
            ? undefined
            : `expected the ack of ${id}`,
      };
    },
    probeEvery: 10,
    pipeline: 1,
    badUpgrade: (rng) => withToken(url, rng.pick(tokens.invalid.filter((t) => t !== ""))),
    answerTimeoutMs: 10_000,
  };
}

function notifyFuzz(url: string, seed: number, frames: number, tokens: Tokens): WsFuzz {
  const subscribed = (channel: string, msgpack: boolean): Probe => ({
    frame: framed("probe-sub", { op: "sub", channel }, msgpack),
    check: (a) =>
      a.op === "subscribed" && a.channel === channel && CURSOR.test(String(a.cursor))
        ? undefined
        : `expected subscribed to ${channel}`,
  });
  return {
    name: "notify ws",
    url: withToken(url, tokens.fuzz),
    seed,
    frames,
    next: (rng) =>
      nextFrame(rng, {
        service: "notify",
        maxFrameBytes: NOTIFY_FRAME_BYTES,
        closeAbove: Math.max(4 * NOTIFY_FRAME_BYTES, 64 * 1024),
        tokens,
      }),
    answerOps: new Set(["subscribed", "unsubscribed", "joined", "left", "presence"]),
    asideOps: new Set(["event", "member_joined", "member_left"]),
    // A subscription notify ends on its own must not be for a fault of notify's.
    aside: (f) =>
      f.op === "unsubscribed" && f.code === "internal"
        ? "a subscription ended with internal"
        : undefined,
    // The probe's subscription exists before the fuzz frames can fill the subscription limit
    // (a re-sub replaces it);
    // the JSON subscription to every fuzzed channel takes whatever data the ingest fuzzer
    // got stored.
    onOpen: [subscribed("probe.notify", false), subscribed("f.>", false)],
    probe: (n): Probe => {
      if (n % 5 === 4) return renewal(tokens.fuzz, n % 2 === 1);
      if (n % 2 === 0) return subscribed("probe.notify", n % 4 === 2);
      return {
        frame: framed("probe-presence", { op: "presence", channel: "probe.notify" }, n % 4 === 3),
        check: (a) =>
          a.op === "presence" && a.channel === "probe.notify" && Array.isArray(a.members)
            ? undefined
            : "expected the members of probe.notify",
      };
    },
    probeEvery: 10,
    pipeline: 8,
    badUpgrade: (rng) => withToken(url, rng.pick(tokens.invalid.filter((t) => t !== ""))),
    answerTimeoutMs: 10_000,
  };
}

function summary(name: string, s: Stats): string {
  const top = (m: Record<string, number>) =>
    Object.entries(m).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(" ");
  const probes = s.probes > 0 ? `, ${s.probes} valid frames between` : "";
  const closes = Object.keys(s.closes).length > 0 ? `; closes ${top(s.closes)}` : "";
  return `${name}: ${s.sent} sent in ${(s.ms / 1000).toFixed(1)} s${probes}; answers ${
    top(s.answers)
  }${closes}`;
}

t.test("the edges answer hostile input, stay up for everyone else, and give their memory back", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jetmesh-fuzz-"));
  writeFileSync(join(dir, "namespaces.yaml"), NAMESPACES);
  const auth = jwtAuth();
  const stack = await startStack({ ...auth.env, JETMESH_NAMESPACES: join(dir, "namespaces.yaml") });
  t.teardown(stack.stop);
  const tokens = await tokensFor(auth.secret);

  const bystanders = await startBystanders({
    ingestUrl: withToken(stack.ingestWs, tokens.calm),
    notifyUrl: withToken(stack.notifyWs, tokens.calm),
    channel: "calm.lane",
    intervalMs: 20,
    watcherUrl: withToken(stack.notifyWs, tokens.watcher),
    grants: GRANTS,
    open: OPEN_TO_ALL,
  });
  const headers = (authorization: string | undefined, more: Record<string, string> = {}) =>
    authorization === undefined ? more : { ...more, authorization };
  const fuzzers = (k: number, frames: number) => [
    fuzzWebSocket(ingestFuzz(stack.ingestWs, seedOf(k), frames, tokens)),
    fuzzWebSocket(notifyFuzz(stack.notifyWs, seedOf(k + 1), frames, tokens)),
    fuzzHttp({
      name: "POST /v1/publish",
      seed: seedOf(k + 2),
      requests: requestsFor(frames),
      next: (rng) => {
        const b = nextPublishBody(rng, tokens);
        const authorization = nextAuthorization(rng, tokens.fuzz, tokens);
        return {
          describe: `${b.kind} ${b.contentType} ${authorization?.slice(0, 20)}: ${
            Buffer.from(b.body.slice(0, 150)).toString("hex")
          }`,
          request: () =>
            fetch(`${stack.ingestHttp}/v1/publish`, {
              method: "POST",
              headers: headers(authorization, { "content-type": b.contentType }),
              body: Buffer.from(b.body),
            }),
        };
      },
    }),
    fuzzHttp({
      name: "GET /v1/history",
      seed: seedOf(k + 3),
      requests: requestsFor(frames),
      next: (rng) => {
        const q = nextHistoryQuery(rng);
        const authorization = nextAuthorization(rng, tokens.fuzz, tokens);
        return {
          describe: `?${q} ${authorization?.slice(0, 20)}`,
          request: () =>
            fetch(`${stack.notifyHttp}/v1/history?${q}`, { headers: headers(authorization) }),
        };
      },
    }),
  ];

  // A short run first, so what any run allocates once (compiled code, pools, caches) is in the
  // baseline.
  await Promise.all(fuzzers(10, WARM_UP));
  const baseline = await settledMemory(1000);
  const stats = await Promise.all(fuzzers(0, FRAMES));
  const calm = await bystanders.finish(15_000);
  const after = await settledMemory(2000);

  const names = ["ingest ws", "notify ws", "POST /v1/publish", "GET /v1/history"];
  stats.forEach((s, i) => console.log(summary(names[i], s)));
  console.log(
    `bystanders: ${calm.acked} acked, ${calm.delivered} delivered, longest gap ${calm.maxGapMs} ms; the watcher checked ${calm.watched} events`,
  );
  const grew = after.heapUsed - baseline.heapUsed;
  console.log(
    `heap ${mib(baseline.heapUsed)} -> ${mib(after.heapUsed)} (${grew >= 0 ? "+" : ""}${
      mib(grew)
    }), rss ${mib(baseline.rss)} -> ${mib(after.rss)}`,
  );

  for (const [i, s] of stats.entries()) {
    t.equal(s.sent, i < 2 ? FRAMES : requestsFor(FRAMES), `${names[i]} sent everything`);
    t.same(
      s.problems.slice(0, 20),
      [],
      `${names[i]}: every frame answered properly (${s.problems.length} problems)`,
    );
  }
  t.same(
    calm.problems.slice(0, 20),
    [],
    "the bystanders' events flowed once each, in order, and every event was published by someone allowed to",
  );
  t.ok(
    calm.acked > 0 && calm.delivered === calm.acked,
    "every acked bystander event was delivered",
  );
  t.ok(calm.maxGapMs < 5000, `no bystander event waited long (${calm.maxGapMs} ms)`);
  // Ready, not only alive: each service still reaches NATS, its streams and (persist, notify)
  // PostgreSQL.
  for (const name of SERVICE_NAMES) {
    const res = await fetch(`${stack.opsUrl(name)}/readyz`);
    t.equal(res.status, 200, `${name} is up and ready`);
  }
  // Garbage that a leak would keep grows with the frames sent; a fixed allowance covers what
  // settles differently.
  t.ok(grew < 16 * 1024 * 1024, `heap back near its baseline (${mib(grew)} over it)`);
});

/**
 * Drives one edge with generated input and checks every answer: the WebSocket
 * fuzzer sends a frame, waits for its answer (both edges answer in order) or
 * a documented close, and every few frames sends a valid frame on the same
 * socket and checks its exact answer. Problems are collected, not thrown, so
 * one run reports all it found, each with what replays it.
 */
import { unpackValue } from "../../internal/codec/mod.ts";
import type { ErrorCode } from "../../internal/errors/mod.ts";
import { type FuzzFrame, Rng } from "./gen.ts";
import { type Frame, FuzzSocket, type Outcome } from "./socket.ts";

/** Every code a client may see (internal/errors); `internal` is a failure wherever it shows up. */
const CLIENT_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "bad_frame",
  "bad_channel",
  "bad_id",
  "bad_request",
  "unknown_op",
  "too_large",
  "unauthorized",
  "forbidden",
  "rate_limited",
  "overloaded",
  "unavailable",
  "not_found",
  "limit_exceeded",
  "rejected",
]);

export interface Stats {
  sent: number;
  /**
   * Answers by op, error answers by `error:<code>`, HTTP answers by status, refused upgrades
   * by `upgrade:<status>`.
   */
  answers: Record<string, number>;
  closes: Record<string, number>;
  probes: number;
  problems: string[];
  ms: number;
}

function newStats(): Stats {
  return { sent: 0, answers: {}, closes: {}, probes: 0, problems: [], ms: 0 };
}

function bump(m: Record<string, number>, key: string): void {
  m[key] = (m[key] ?? 0) + 1;
}

/**
 * What to look at when a frame goes wrong: its kind, its first bytes (hex for binary), and the
 * seed.
 */
function describe(f: FuzzFrame): string {
  const bytes = typeof f.payload === "string"
    ? JSON.stringify(f.payload.slice(0, 300))
    : Buffer.from(f.payload.slice(0, 150)).toString("hex");
  const size = typeof f.payload === "string" ? f.payload.length : f.payload.byteLength;
  return `${f.kind} ${f.binary ? "binary" : "text"} (${size}): ${bytes}`;
}

/** Why an error frame is not a proper answer, or undefined when it is. */
function badError(f: Frame): string | undefined {
  if (f.code === "internal") return "answered internal";
  if (typeof f.code !== "string" || !CLIENT_CODES.has(f.code)) {
    return `unknown error code ${JSON.stringify(f.code)}`;
  }
  if (typeof f.message !== "string" || f.message === "") return "error without a message";
  return undefined;
}

/** A valid frame and the check of its answer (a problem, or undefined). */
export interface Probe {
  frame: FuzzFrame;
  check(answer: Frame): string | undefined;
}

export interface WsFuzz {
  name: string;
  /** The URL the fuzzing connection opens (with its token). */
  url: string;
  seed: number;
  frames: number;
  next(rng: Rng): FuzzFrame;
  /** Answer ops other than `error` this edge may send. */
  answerOps: ReadonlySet<string>;
  /** Ops of frames that answer no frame (events, presence changes). */
  asideOps: ReadonlySet<string>;
  /** Checks a frame that is no answer: undefined or a problem. */
  aside?(f: Frame): string | undefined;
  /** Sent first on every new connection, answers checked like probes. */
  onOpen: Probe[];
  /** The n-th probe. */
  probe(n: number): Probe;
  probeEvery: number;
  /**
   * Frames sent at once, at most: notify answers in order, so it takes groups;
   * ingest's acks may overtake each other, so it gets 1 (and its probes go alone).
   */
  pipeline: number;
  /**
   * An upgrade URL with a token that must be refused with 401, tried every `probeEvery * 20`
   * frames.
   */
  badUpgrade(rng: Rng): string;
  answerTimeoutMs: number;
}

/** Runs one WebSocket fuzzer to its frame count. */
export async function fuzzWebSocket(o: WsFuzz): Promise<Stats> {
  const stats = newStats();
  const started = Date.now();
  const rng = new Rng(o.seed);
  // An `unsubscribed` with a code is notify ending a subscription on its own, and
  // slow_consumer precedes a close: neither answers a frame.
  const isAnswer = (f: Frame) =>
    !o.asideOps.has(String(f.op)) && !(f.op === "unsubscribed" && f.code !== undefined) &&
    f.code !== "slow_consumer";
  const aside = (f: Frame) => {
    bump(stats.answers, `aside:${f.op}${f.code ? `:${f.code}` : ""}`);
    const problem = o.aside?.(f);
    if (problem) stats.problems.push(`${o.name}: ${problem}: ${JSON.stringify(f).slice(0, 300)}`);
  };
  const problem = (i: number, f: FuzzFrame, what: string) => {
    stats.problems.push(
      `${o.name}: frame ${i} (FUZZ_SEED=${o.seed}): ${what}; frame ${describe(f)}`,
    );
  };

  /** Checks a valid frame's answer; false when the connection is gone. */
  const probed = (out: Outcome, i: number, p: Probe): boolean => {
    stats.probes++;
    if ("frame" in out) {
      const why = p.check(out.frame);
      if (why) {
        problem(
          i,
          p.frame,
          `valid frame after fuzzing: ${why}: ${JSON.stringify(out.frame).slice(0, 300)}`,
        );
      }
      return true;
    }
    problem(
      i,
      p.frame,
      "closed" in out ? `valid frame: connection closed ${out.closed}` : "valid frame: no answer",
    );
    return false;
  };
  const probe = async (sock: FuzzSocket, i: number, p: Probe): Promise<boolean> => {
    sock.send(p.frame);
    return probed(await sock.next(isAnswer, aside, o.answerTimeoutMs), i, p);
  };
  const badUpgrade = async (url: string, i: number) => {
    const outcome = await FuzzSocket.open(url).then(async (s) => {
      await s.close();
      return "accepted";
    }, (err: Error) => err.message.replace("upgrade refused: ", ""));
    bump(stats.answers, `upgrade:${outcome}`);
    if (outcome !== "401") {
      stats.problems.push(
        `${o.name}: upgrade with a bad token before frame ${i} (FUZZ_SEED=${o.seed}): ${outcome}; ${
          url.slice(0, 300)
        }`,
      );
    }
  };
  const connect = async (i: number): Promise<FuzzSocket> => {
    const sock = await FuzzSocket.open(o.url);
    for (const p of o.onOpen) await probe(sock, i, p);
    return sock;
  };

  let sock = await connect(0);
  let probes = 0;
  let upgrades = 0;
  for (let i = 0; i < o.frames;) {
    if (Math.floor(i / (o.probeEvery * 20)) >= upgrades) {
      upgrades++;
      await badUpgrade(o.badUpgrade(rng), i);
    }
    const group = Array.from(
      { length: Math.min(o.frames - i, rng.int(1, o.pipeline)) },
      () => o.next(rng),
    );
    const first = i;
    i += group.length;
    // A valid frame every probeEvery frames; behind a pipelined group, its answer must also
    // come last.
    const p = Math.floor(i / o.probeEvery) > probes ? o.probe(++probes) : undefined;
    for (const f of group) sock.send(f);
    if (p && o.pipeline > 1) sock.send(p.frame);
    stats.sent += group.length;
    let usable = true;
    for (const [k, f] of group.entries()) {
      const out = await sock.next(isAnswer, aside, o.answerTimeoutMs);
      if ("frame" in out) {
        const a = out.frame;
        const why = a.op === "error"
          ? badError(a)
          : o.answerOps.has(String(a.op))
          ? undefined
          : `unexpected answer op ${a.op}`;
        bump(stats.answers, a.op === "error" ? `error:${a.code}` : String(a.op));
        if (why) problem(first + k, f, `${why}: ${JSON.stringify(a).slice(0, 300)}`);
        continue;
      }
      usable = false;
      if ("closed" in out) {
        bump(stats.closes, String(out.closed));
        // Answers still being worked out when the connection went are lost with it: the
        // frame that closed it may be a later one of the group.
        if (!group.slice(k).some((g) => g.mayClose?.includes(out.closed))) {
          problem(first + k, f, `connection closed with ${out.closed} instead of an answer`);
        }
      } else {
        problem(first + k, f, `no answer within ${o.answerTimeoutMs} ms`);
        await sock.close();
      }
      break;
    }
    if (usable && p) {
      usable = o.pipeline > 1
        ? probed(await sock.next(isAnswer, aside, o.answerTimeoutMs), i, p)
        : await probe(sock, i, p);
    }
    if (!usable) sock = await connect(i);
  }
  await probe(sock, o.frames, o.probe(0));
  await sock.close();
  stats.ms = Date.now() - started;
  return stats;
}

export interface HttpFuzz {
  name: string;
  seed: number;
  requests: number;
  /** The next request, and what describes it in a report. */
  next(rng: Rng): { describe: string; request: () => Promise<Response> };
}

/**
 * Runs an HTTP fuzzer: every answer must be a 2xx with a body, or a 4xx/503
 * error frame with a client code, never a 500 or a code `internal`.
 */
export async function fuzzHttp(o: HttpFuzz): Promise<Stats> {
  const stats = newStats();
  const started = Date.now();
  const rng = new Rng(o.seed);
  for (let i = 0; i < o.requests; i++) {
    const r = o.next(rng);
    stats.sent++;
    const res = await r.request();
    const bytes = new Uint8Array(await res.arrayBuffer());
    bump(stats.answers, String(res.status));
    const report = (what: string) =>
      stats.problems.push(`${o.name}: request ${i} (FUZZ_SEED=${o.seed}): ${what}; ${r.describe}`);
    let body: unknown;
    try {
      body = (res.headers.get("content-type") ?? "").includes("msgpack")
        ? unpackValue(bytes)
        : JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      report(`status ${res.status} with an undecodable body (${(err as Error).message})`);
      continue;
    }
    if (res.status >= 500 && res.status !== 503) {
      report(`status ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    }
    // A batch answers with an ack or an error frame per event, whatever the status.
    const errors = Array.isArray(body)
      ? body.filter((f) => (f as Frame).op === "error")
      : res.status >= 400
      ? [body]
      : [];
    for (const e of errors) {
      const why = badError(e as Frame);
      if (why) report(`${why}: ${JSON.stringify(e).slice(0, 300)}`);
    }
  }
  stats.ms = Date.now() - started;
  return stats;
}

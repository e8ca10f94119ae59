/**
 * Seeded generators of hostile input for the edges: random bytes, mutated
 * valid frames (JSON and msgpack), wrong types, huge numbers, deep nesting,
 * unknown ops, invalid tokens. Everything comes from one Rng, so a seed
 * replays the same frames in the same order (FUZZ_SEED=<n>).
 */
import { packValue } from "../../internal/codec/mod.ts";
import { Rng } from "../faults/prng.ts";

export { Rng };

/** One WebSocket frame to send, and what the runner may expect of it. */
export interface FuzzFrame {
  /** Generator class, for counts and for a failure's report. */
  kind: string;
  payload: string | Uint8Array;
  binary: boolean;
  /** Close codes this frame may legitimately end the connection with instead of an answer. */
  mayClose?: number[];
}

/** Which tokens the generators mix into frames; minted by the test (devkit/tokens.ts). */
export interface TokenPool {
  /** The fuzzing identity's `sub`: presence joins are allowed only under it. */
  self: string;
  /** Tokens no service accepts: garbage, wrong signature, expired, alg none. */
  invalid: string[];
  /**
   * Valid tokens of another identity: an `auth` frame with one must be refused; over HTTP they
   * hold only its own grants.
   */
  otherSub: string[];
}

/**
 * Channels the fuzzers publish and subscribe to; the bystanders use none of them (see
 * edges.test.ts).
 */
const CHANNELS = [
  "f.a",
  "f.b.c",
  "f.a.b.c.d",
  "f.*",
  "f.>",
  "f",
  ">",
  "*",
  "*.a",
  "ro.x",
  "slow.a",
  "slow.b",
  "a..b",
  ".a",
  "a.",
  "",
  " ",
  "a b",
  "f.\u00e9",
  "f.\u0000",
  "f.a\n",
  "f.>.x",
  "x".repeat(201),
  Array(17).fill("t").join("."),
  "f.-_",
  "F.A",
];
const CURSORS = [
  "0-0",
  "1-1",
  "1764000000000-1",
  "99999999999999-1",
  "-1-1",
  "1e3-4",
  "0-",
  "-",
  "a-b",
  "9".repeat(40) + "-1",
  "1-9007199254740993",
];
/** JSON number literals JSON.parse turns into Infinity, -0, rounded or lossy values. */
const HUGE_JSON = [
  "1e999",
  "-1e999",
  "123456789012345678901234567890",
  "1e-400",
  "-0",
  "9007199254740993",
  "0.1e308",
  "5e-324",
];
const WEIRD_KEYS = ["__proto__", "constructor", "prototype", "toString", "", "op ", "OP", "\u0000"];
const OPS_INGEST = ["pub", "auth"];
const OPS_NOTIFY = ["sub", "unsub", "join", "leave", "presence", "auth"];
const UNKNOWN_OPS: unknown[] = [
  "",
  "PUB",
  "pub ",
  "event",
  "ack",
  "explode",
  "constructor",
  "__proto__",
  1,
  null,
  true,
  [],
  {},
  "sub\u0000",
];
const utf8 = new TextEncoder();

function randomString(rng: Rng, max: number): string {
  const n = rng.int(0, max);
  let s = "";
  for (let i = 0; i < n; i++) {
    const r = rng.next();
    // Mostly ASCII, some controls, non-ASCII and lone surrogates.
    s += String.fromCharCode(
      r < 0.7
        ? rng.int(0x20, 0x7e)
        : r < 0.8
        ? rng.int(0, 0x1f)
        : r < 0.95
        ? rng.int(0x80, 0xd7ff)
        : rng.int(0xd800, 0xdfff),
    );
  }
  return s;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(0, 255);
  return b;
}

/** A value of any type a frame field could hold, sometimes one JSON cannot say (msgpack only). */
function weirdValue(rng: Rng, msgpack: boolean, depth = 0): unknown {
  const choices: Array<() => unknown> = [
    () => null,
    () => rng.next() < 0.5,
    () => rng.int(-1000, 1000),
    () =>
      rng.pick([
        Number.MAX_SAFE_INTEGER + 2,
        -Number.MAX_VALUE,
        Number.MIN_VALUE,
        1e21,
        -0,
        0.1 + 0.2,
      ]),
    () => randomString(rng, 40),
    () => "x".repeat(rng.int(100, 3000)),
    () => (depth < 3
      ? Array.from({ length: rng.int(0, 4) }, () => weirdValue(rng, msgpack, depth + 1))
      : []),
    () => (depth < 3
      ? Object.fromEntries(
        Array.from(
          { length: rng.int(0, 4) },
          () => [
            rng.pick(WEIRD_KEYS.concat(randomString(rng, 8))),
            weirdValue(rng, msgpack, depth + 1),
          ],
        ),
      )
      : {}),
  ];
  if (msgpack) {
    choices.push(
      () => rng.pick([2n ** 64n - 1n, -(2n ** 63n), 2n ** 53n + 1n]),
      () => rng.pick([NaN, Infinity, -Infinity]),
      () => randomBytes(rng, rng.int(0, 64)),
      () => new Date(rng.int(-1e12, 1e13)),
    );
  }
  return rng.pick(choices)();
}

function validFrame(
  rng: Rng,
  service: "ingest" | "notify",
  tokens: TokenPool,
): Record<string, unknown> {
  const op = rng.pick(service === "ingest" ? OPS_INGEST : OPS_NOTIFY);
  const channel = rng.pick(CHANNELS.slice(0, 12));
  switch (op) {
    case "pub": {
      const f: Record<string, unknown> = {
        op,
        channel: channel.replace(/[*>]/g, "w"),
        data: weirdValue(rng, false),
      };
      if (rng.next() < 0.7) f.id = `fz-${rng.int(0, 1e9)}`;
      if (rng.next() < 0.1) f.traceparent = `00-${"a".repeat(32)}-${"b".repeat(16)}-01`;
      return f;
    }
    case "sub":
      return rng.next() < 0.3 ? { op, channel, after: rng.pick(CURSORS) } : { op, channel };
    case "join":
      return {
        op,
        channel: channel.replace(/[*>]/g, "w"),
        member: rng.next() < 0.7 ? tokens.self : `m${rng.int(0, 9)}`,
      };
    case "presence":
      return rng.next() < 0.5
        ? { op, channel: channel.replace(/[*>]/g, "w"), watch: rng.next() < 0.5 }
        : { op, channel: channel.replace(/[*>]/g, "w") };
    case "auth":
      return { op, token: rng.pick([...tokens.invalid, ...tokens.otherSub]) };
    default:
      return { op, channel };
  }
}

/** `depth` arrays or objects inside each other around `inner`. */
function nest(rng: Rng, depth: number, inner: unknown): unknown {
  let v = inner;
  for (let i = 0; i < depth; i++) v = rng.next() < 0.5 ? [v] : { k: v };
  return v;
}

/** Byte-level damage: flips, insertions, deletions, duplicated or truncated runs. */
function mutateBytes(rng: Rng, input: Uint8Array): Uint8Array {
  const b = [...input];
  const special = utf8.encode('"{}[],:\\0-e.');
  for (let n = rng.int(1, 4); n > 0; n--) {
    const at = rng.int(0, Math.max(0, b.length - 1));
    switch (rng.int(0, 5)) {
      case 0:
        b[at] ^= 1 << rng.int(0, 7);
        break;
      case 1:
        b.splice(at, 0, rng.next() < 0.5 ? rng.pick([...special]) : rng.int(0, 255));
        break;
      case 2:
        b.splice(at, rng.int(1, 4));
        break;
      case 3:
        b.splice(at, 0, ...b.slice(at, at + rng.int(1, 16)));
        break;
      case 4:
        b.length = at;
        break;
      default:
        b[at] = rng.pick([0x00, 0xc1, 0xff, 0xdc, 0xde, 0xcf, 0xd3, 0xc7, 0xd4, 0x22, 0x7b]);
    }
  }
  return new Uint8Array(b);
}

function text(kind: string, payload: string): FuzzFrame {
  return { kind, payload, binary: false };
}

function binary(kind: string, payload: Uint8Array): FuzzFrame {
  return { kind, payload, binary: true };
}

/**
 * msgpack for `depth` nested one-element arrays, by hand: packing a deep value recurses as much
 * as decoding it.
 */
function deepMsgpack(depth: number): Uint8Array {
  return new Uint8Array([...new Array(depth).fill(0x91), 0x01]);
}

export interface FrameGenOptions {
  service: "ingest" | "notify";
  /** The service's frame limit in bytes: frames just over it must be answered too_large. */
  maxFrameBytes: number;
  /** Frames over this are closed with 1009 unread (docs/protocol.md, Close codes). */
  closeAbove: number;
  tokens: TokenPool;
}

/** The next hostile frame for a service's WebSocket. */
export function nextFrame(rng: Rng, o: FrameGenOptions): FuzzFrame {
  const valid = () => validFrame(rng, o.service, o.tokens);
  const r = rng.next();
  if (r < 0.08) return binary("random-bytes", randomBytes(rng, rng.int(0, 300)));
  if (r < 0.13) return text("random-text", randomString(rng, 300));
  if (r < 0.14) {
    // Bytes sent as a text frame without being UTF-8. RFC 6455 would close with 1007; uWS drops
    // the TCP connection instead, which the client sees as 1006 (docs/protocol.md does not
    // say so yet).
    const b = randomBytes(rng, rng.int(1, 100));
    b[rng.int(0, b.length - 1)] = rng.pick([0xc0, 0xff, 0xed, 0x80]);
    return { kind: "invalid-utf8-text", payload: b, binary: false, mayClose: [1006] };
  }
  if (r < 0.3) {
    return text(
      "mutated-json",
      new TextDecoder().decode(mutateBytes(rng, utf8.encode(JSON.stringify(valid())))),
    );
  }
  if (r < 0.46) return binary("mutated-msgpack", mutateBytes(rng, packValue(valid())));
  if (r < 0.62) {
    // Wrong types: a field of a valid frame gets a value of another type, or goes missing,
    // or an odd key joins.
    const f = valid();
    const msgpack = rng.next() < 0.5;
    const key = rng.pick([...Object.keys(f), ...WEIRD_KEYS]);
    // defineProperty, because assigning `__proto__` would replace the prototype instead of
    // adding a key.
    if (rng.next() < 0.2) delete f[key];
    else {Object.defineProperty(f, key, {
        value: weirdValue(rng, msgpack),
        enumerable: true,
        writable: true,
        configurable: true,
      });}
    return msgpack
      ? binary("wrong-type-msgpack", packValue(f))
      : text("wrong-type-json", JSON.stringify(f));
  }
  if (r < 0.7) {
    const f = JSON.stringify(valid());
    const field = rng.pick(["data", "id", "channel", "after", "watch", "member", "token", "op"]);
    return text("huge-number-json", `${f.slice(0, -1)},"${field}":${rng.pick(HUGE_JSON)}}`);
  }
  if (r < 0.76) {
    const depth = rng.next() < 0.8 ? rng.int(60, 70) : rng.int(500, 5000);
    if (rng.next() < 0.5) {
      const f = { ...valid(), data: nest(rng, depth, 1) };
      // Deep values go as text built by hand too: JSON.stringify recurses like the parser would.
      const deep = "[".repeat(depth) + "]".repeat(depth);
      return depth > 500
        ? text("deep-json", `{"op":"pub","channel":"f.a","data":${deep}}`)
        : text("deep-json", JSON.stringify(f));
    }
    return binary(
      "deep-msgpack",
      depth > 500 ? deepMsgpack(depth) : packValue(nest(rng, depth, valid())),
    );
  }
  if (r < 0.82) {
    const f = { ...valid(), op: rng.pick(UNKNOWN_OPS) };
    return rng.next() < 0.5
      ? text("unknown-op-json", JSON.stringify(f))
      : binary("unknown-op-msgpack", packValue(f));
  }
  if (r < 0.9) {
    const token = rng.pick([...o.tokens.invalid, ...o.tokens.otherSub, "x".repeat(9000), ""]);
    const f = { op: "auth", token: rng.next() < 0.8 ? token : weirdValue(rng, false) };
    return rng.next() < 0.5
      ? text("bad-token-json", JSON.stringify(f))
      : binary("bad-token-msgpack", packValue(f));
  }
  if (r < 0.998) {
    const f = valid();
    return rng.next() < 0.5
      ? text("valid-json", JSON.stringify(f))
      : binary("valid-msgpack", packValue(f));
  }
  if (r < 0.9995) {
    return text(
      "over-limit",
      JSON.stringify({ op: "pub", channel: "f.a", data: "z".repeat(o.maxFrameBytes) }),
    );
  }
  return {
    kind: "far-over-limit",
    payload: randomBytes(rng, o.closeAbove + 1),
    binary: true,
    mayClose: [1009],
  };
}

/** A body for POST /v1/publish and the Content-Type it is sent with. */
export function nextPublishBody(
  rng: Rng,
  tokens: TokenPool,
): { kind: string; body: Uint8Array; contentType: string } {
  const item = () => {
    const f = validFrame(rng, "ingest", tokens);
    if (rng.next() < 0.5) delete f.op;
    if (rng.next() < 0.3) {
      f[rng.pick(["id", "channel", "data", "op", "traceparent"])] = weirdValue(rng, false);
    }
    return f;
  };
  const value = rng.next() < 0.3 ? Array.from({ length: rng.int(0, 5) }, item) : item();
  const msgpack = rng.next() < 0.4;
  const contentType = rng.next() < 0.05
    ? rng.pick([
      "text/plain",
      "application/json; charset=utf-8",
      "application/x-msgpack",
      "",
      "application/json-seq",
    ])
    : msgpack
    ? "application/msgpack"
    : "application/json";
  const r = rng.next();
  if (r < 0.1) {
    return { kind: "http-random-bytes", body: randomBytes(rng, rng.int(0, 300)), contentType };
  }
  const encoded = msgpack ? packValue(value) : utf8.encode(JSON.stringify(value));
  if (r < 0.5) return { kind: "http-mutated", body: mutateBytes(rng, encoded), contentType };
  if (r < 0.55) {
    return {
      kind: "http-deep",
      body: utf8.encode(`{"channel":"f.a","data":${"[".repeat(rng.int(60, 3000))}`),
      contentType: "application/json",
    };
  }
  return { kind: "http-valid", body: encoded, contentType };
}

/** A query string for GET /v1/history. */
export function nextHistoryQuery(rng: Rng): string {
  const params = new URLSearchParams();
  const values: Record<string, () => string> = {
    channel: () => rng.pick([...CHANNELS, randomString(rng, 30)]),
    after: () => rng.pick([...CURSORS, "", randomString(rng, 20)]),
    limit: () =>
      rng.pick([
        "",
        "0",
        "1",
        "1000",
        "1001",
        "-1",
        "1e3",
        "0x10",
        "NaN",
        "Infinity",
        "1.5",
        " 5",
        "99999999999999999999",
        randomString(rng, 5),
      ]),
  };
  for (const name of ["channel", "after", "limit"]) {
    for (let n = rng.pick([0, 1, 1, 1, 2]); n > 0; n--) params.append(name, values[name]());
  }
  if (rng.next() < 0.1) params.append(randomString(rng, 6), randomString(rng, 6));
  const query = params.toString();
  // Sometimes raw damage past URLSearchParams' escaping: stray %, bare & and =.
  return rng.next() < 0.1
    ? query.replace(/%[0-9A-F]{2}/, rng.pick(["%", "%zz", "%%", "&&=", "%ff%fe"]))
    : query;
}

/**
 * An Authorization header for an HTTP request: mostly the valid token, sometimes a bad one, a
 * wrong scheme or none.
 */
export function nextAuthorization(rng: Rng, valid: string, tokens: TokenPool): string | undefined {
  const r = rng.next();
  if (r < 0.9) return `Bearer ${valid}`;
  if (r < 0.96) {
    return `Bearer ${rng.pick([...tokens.invalid.filter((t) => t !== ""), ...tokens.otherSub])}`;
  }
  if (r < 0.98) {
    return rng.pick([
      "Basic Zm9vOmJhcg==",
      "Bearer",
      "Bearer  ",
      `bearer ${valid}x`,
      `Token ${valid}`,
    ]);
  }
  return undefined;
}

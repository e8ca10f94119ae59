/**
 * What the bus encoding costs per event, in this process, without the
 * network: the envelope as msgpack (what the bus carries) against JSON, and
 * the headers of an event message as they are against the same with
 * readable `Jetmesh-Channel`, `Jetmesh-Publisher` and `Content-Type` headers.
 * The figures decide docs/protocol.md "Reading the bus".
 *
 *   node --import tsx bench/bus-encoding.ts [--payload=200] [--rounds=7]
 *
 * One event crosses the bus as: 2 envelope encodes (ingest, route), 3 decodes
 * (route, persist, notify); 2 header encodes and 2 header parses (route and
 * notify read headers on every message, persist only when tracing), so the
 * "per event" rows weigh the single operations that way.
 */
import { headers as natsHeaders, MsgHdrsImpl } from "@nats-io/transport-node";
import { packValue, unpackValue } from "../internal/codec/mod.ts";
import { type Envelope, ENVELOPE_VERSION, MSG_ID_HEADER } from "../subjects/mod.ts";

const arg = (name: string, dflt: number) =>
  Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
const payloadBytes = arg("payload", 200);
const rounds = arg("rounds", 7);
const N = 50_000;

const te = new TextEncoder();
const td = new TextDecoder();

// The load generator's data (bench/workers/loadgen.ts): about 60 bytes besides the pad.
function envelope(i: number): Envelope {
  const now = Date.now();
  return {
    v: ENVELOPE_VERSION,
    id: `pub-${i % 4}:${i}`,
    channel: `bench.c${i % 64}`,
    ts: now,
    publisher: `pub-${i % 4}`,
    data: { r: 1, c: i % 64, n: i, t: now, p: "x".repeat(Math.max(0, payloadBytes - 60)) },
    routedAt: now,
  };
}

const envs = Array.from({ length: 1024 }, (_, i) => envelope(i));
const packed = envs.map((e) => packValue(e));
const json = envs.map((e) => te.encode(JSON.stringify(e)));

function plainHeaders(e: Envelope) {
  // MsgHdrsImpl: encode() is what the client calls on publish.
  const h = natsHeaders() as MsgHdrsImpl;
  h.set(MSG_ID_HEADER, e.id);
  return h;
}
function readableHeaders(e: Envelope) {
  const h = plainHeaders(e);
  h.set("Jetmesh-Channel", e.channel);
  h.set("Jetmesh-Publisher", e.publisher);
  h.set("Content-Type", "application/msgpack");
  return h;
}
const plainHdr = envs.map((e) => plainHeaders(e).encode());
const readableHdr = envs.map((e) => readableHeaders(e).encode());

let sink = 0;
const cases: Record<string, (i: number) => void> = {
  "msgpack encode": (i) => (sink += packValue(envs[i & 1023]).length),
  "msgpack decode": (i) => (sink += (unpackValue(packed[i & 1023]) as Envelope).ts),
  "JSON encode": (i) => (sink += te.encode(JSON.stringify(envs[i & 1023])).length),
  "JSON decode": (i) => (sink += (JSON.parse(td.decode(json[i & 1023])) as Envelope).ts),
  "headers encode, Nats-Msg-Id only": (i) => (sink += plainHeaders(envs[i & 1023]).encode().length),
  "headers encode, + 3 readable": (i) => (sink += readableHeaders(envs[i & 1023]).encode().length),
  "headers parse, Nats-Msg-Id only": (
    i,
  ) => (sink += MsgHdrsImpl.decode(plainHdr[i & 1023]).get("traceparent").length),
  "headers parse, + 3 readable": (
    i,
  ) => (sink += MsgHdrsImpl.decode(readableHdr[i & 1023]).get("traceparent").length),
};

/**
 * CPU ns per operation: the median of `rounds` loops after a warm-up loop.
 * CPU time of this process, not wall time: the machine is shared, and
 * another user's load would otherwise count as ours.
 */
function measure(fn: (i: number) => void): number {
  const out: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < N; i++) fn(i);
    const d = process.cpuUsage(t0);
    const ns = ((d.user + d.system) * 1000) / N;
    if (r > 0) out.push(ns);
  }
  out.sort((a, b) => a - b);
  return out[Math.floor(out.length / 2)];
}

const ns: Record<string, number> = {};
for (const [name, fn] of Object.entries(cases)) ns[name] = measure(fn);
const avg = (xs: Uint8Array[]) => xs.reduce((s, x) => s + x.length, 0) / xs.length;
const us = (x: number) => `${(x / 1000).toFixed(2)} µs`;

console.log(
  `bus encoding, ${payloadBytes} B data, node ${process.version}, CPU time, median of ${rounds} × ${N}`,
);
for (const [name, v] of Object.entries(ns)) console.log(`  ${name.padEnd(34)} ${us(v)}`);
console.log(
  `  envelope bytes: msgpack ${avg(packed).toFixed(0)} B, JSON ${avg(json).toFixed(0)} B`,
);
console.log(
  `  header bytes:   Nats-Msg-Id only ${avg(plainHdr).toFixed(0)} B, + 3 readable ${
    avg(readableHdr).toFixed(0)
  } B`,
);
const perEvent = (enc: string, dec: string) => 2 * ns[enc] + 3 * ns[dec];
const hdrPerEvent = (enc: string, dec: string) => 2 * ns[enc] + 2 * ns[dec];
console.log("per event (2 envelope encodes + 3 decodes; 2 header encodes + 2 parses):");
console.log(
  `  envelope msgpack ${us(perEvent("msgpack encode", "msgpack decode"))}, JSON ${
    us(perEvent("JSON encode", "JSON decode"))
  }`,
);
const plain = hdrPerEvent("headers encode, Nats-Msg-Id only", "headers parse, Nats-Msg-Id only");
const readable = hdrPerEvent("headers encode, + 3 readable", "headers parse, + 3 readable");
console.log(
  `  headers Nats-Msg-Id only ${us(plain)}, + 3 readable ${us(readable)} (+${
    us(readable - plain)
  })`,
);
if (sink === 42) console.log("");

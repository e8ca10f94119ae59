#!/usr/bin/env node
// Prints one bus message (a jetmesh event envelope, msgpack) read from stdin
// as JSON. Made for the nats CLI, which runs it once per message with the
// message's payload on stdin:
//
//   .tools/bin/nats --context jetmesh-local stream get EVENTS 1 --translate bin/jetmesh-decode.mjs
//
// --compact prints one line per message (handy with `nats sub`).
//
// Plain JavaScript on purpose: it starts once per message, and loading tsx
// and the contract first would cost several times its start-up
// (docs/protocol.md, "Reading the bus"). `.mjs` so that it is ES module
// whatever loaders NODE_OPTIONS adds (tap's would load an extensionless file
// as CommonJS and fail).
// It decodes with the options of internal/codec/msgpack.ts (maps as plain
// objects); test/e2e/nats-cli.test.ts checks it against decodeEnvelope.
import { Packr } from "msgpackr";
import { readFileSync } from "node:fs";

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** JSON has no bytes: binary values (a msgpack client may send them in `data`) print as base64. */
function readable(v) {
  if (v instanceof Uint8Array) return { base64: Buffer.from(v).toString("base64") };
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(readable);
  if (v !== null && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) out[k] = readable(x);
    return out;
  }
  return v;
}

const input = readFileSync(0);
let value;
try {
  value = packr.unpack(input);
} catch (err) {
  // Not msgpack (a KV value, a hand-published test message): show it as text, and say so.
  process.stdout.write(`not a msgpack envelope (${err.message}); as text: ${JSON.stringify(input.toString("utf8"))}\n`);
  process.exit(1);
}
const compact = process.argv.includes("--compact");
process.stdout.write(JSON.stringify(readable(value), null, compact ? undefined : 2) + "\n");

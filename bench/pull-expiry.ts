/**
 * How pulls that expire part-filled end on a given nats-server, while bursts
 * of publishes keep arriving around the expiry: `node --import tsx
 * bench/pull-expiry.ts [rounds]` (NATS_SERVER_BIN picks the server).
 * A pull the server ends with its status ends on time; one it drops silently
 * ends only when the client misses two idle heartbeats ("stalled").
 * internal/bus/batches.ts keeps a check for dropped pulls; this is the
 * evidence of when a server needs it.
 */
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../devkit/nats-server.ts";

const rounds = Number(process.argv[2] ?? 120);
const EXPIRES_MS = 1000;
const ns = await startNatsServer();
const nc = await connect({ servers: ns.url });
const producer = await connect({ servers: ns.url });
const jsm = await jetstreamManager(nc);
await jsm.streams.add({ name: "P", subjects: ["p.>"] });
await jsm.consumers.add("P", {
  durable_name: "c",
  ack_policy: AckPolicy.Explicit,
  max_ack_pending: 4096,
});
const consumer = await jetstream(nc).consumers.get("P", "c");

let publishing = true;
const pjs = jetstream(producer);
const bursts = (async () => {
  for (let i = 0; publishing;) {
    const n = Math.floor(Math.random() * 300);
    for (let k = 0; k < n; k++) pjs.publish(`p.${i++ % 9}`, "x").catch(() => {});
    await new Promise((r) => setTimeout(r, Math.random() * 700));
  }
})();

const pastExpiry: number[] = [];
let stalled = 0;
let received = 0;
for (let r = 0; r < rounds; r++) {
  const started = Date.now();
  const messages = await consumer.fetch({ max_messages: 512, expires: EXPIRES_MS });
  try {
    for await (const m of messages) {
      m.ack();
      received++;
    }
  } catch (err) {
    if (!/heartbeats missed/.test(String(err))) throw err;
    stalled++;
  }
  pastExpiry.push(Date.now() - started - EXPIRES_MS);
}
publishing = false;
await bursts;
pastExpiry.sort((a, b) => a - b);
console.log(JSON.stringify({
  server: nc.info?.version,
  rounds,
  received,
  stalled,
  msPastExpiry: {
    p50: pastExpiry[Math.floor(rounds / 2)],
    p99: pastExpiry[Math.floor(rounds * 0.99)],
    max: pastExpiry[rounds - 1],
  },
}));
await nc.close();
await producer.close();
await ns.stop();

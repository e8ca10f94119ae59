/**
 * What route's record of routed ids (`jetmesh_seen`, one KV key per event,
 * kept ROUTE_DEDUPE_TTL) costs nats-server in memory per key:
 * `node --import tsx bench/seen-keys.ts [keys]` (default 1,000,000). The
 * same number of writes goes once to that many distinct keys and once to a
 * thousand keys rewritten (history 1, as the bucket keeps), each into a
 * fresh nats-server; the difference of the two RSS figures, after the writes
 * and a pause for the server to drop its block caches, is what the distinct
 * keys hold in memory (nats-server indexes every subject of a stream).
 * docs/scaling.md sizes the bucket from it.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../devkit/nats-server.ts";
import { PipelinedPublisher } from "../internal/bus/mod.ts";
import { rssBytes } from "./proc.ts";
import { publishMany } from "./publish-many.ts";
import { fmtBytes, fmtCount } from "./stats.ts";

const keys = Number(process.argv[2] ?? 1_000_000);
const IN_FLIGHT = 2048;
/** Longer than the file store's block cache lasts unused, and a few Go GC cycles. */
const SETTLE_MS = 20_000;
const REWRITTEN_KEYS = 1000;

/** RSS of a fresh nats-server after `keys` writes to `distinct` keys, and their rate. */
async function run(distinct: number): Promise<{ rss: number; before: number; perSec: number }> {
  const ns = await startNatsServer({ name: "seen-keys" });
  try {
    const nc = await connect({ servers: ns.url });
    const jsm = await jetstreamManager(nc);
    // The shape of jetmesh_seen (subjects/buckets.ts): a KV stream, history 1, direct gets.
    await jsm.streams.add({
      name: "KV_seen",
      subjects: ["$KV.seen.>"],
      max_msgs_per_subject: 1,
      allow_direct: true,
      max_age: 7 * 24 * 3600 * 1e9,
    });
    const before = rssBytes(ns.pid ?? -1) ?? NaN;
    const pub = new PipelinedPublisher(nc, "_INBOX");
    const value = new TextEncoder().encode("123456789:routed");
    const perSec = await publishMany(pub, keys, IN_FLIGHT, (i) => {
      // Event ids as route keys them: base64url of `<publisher>-<n>`.
      const key = btoa(`loadgen-${(i % distinct).toString(36)}`).replace(/=+$/, "");
      return [`$KV.seen.${key}`, value];
    });
    await nc.close();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    return { rss: rssBytes(ns.pid ?? -1) ?? NaN, before, perSec };
  } finally {
    await ns.stop();
  }
}

const rewritten = await run(REWRITTEN_KEYS);
const distinct = await run(keys);
const perKey = (distinct.rss - rewritten.rss) / keys;
console.log(
  `${fmtCount(keys)} writes: to ${fmtCount(keys)} distinct keys RSS ${
    fmtBytes(distinct.before)
  } → ${fmtBytes(distinct.rss)} (${fmtCount(distinct.perSec)}/s); to ${
    fmtCount(REWRITTEN_KEYS)
  } keys ${fmtBytes(rewritten.before)} → ${fmtBytes(rewritten.rss)} (${
    fmtCount(rewritten.perSec)
  }/s); per distinct key ${fmtBytes(perKey)}`,
);

/**
 * What a long duplicate window on EVENTS would cost nats-server, as the alternative to route's
 * record of routed ids (`jetmesh_seen`, bench/seen-keys.ts): `node --import tsx
 * bench/dedupe-window.ts [messages]` (default 1,000,000). The same messages go once with a
 * distinct Nats-Msg-Id each and once with none, each into a fresh nats-server whose stream keeps
 * msgIDs for an hour; the difference of the two RSS figures is what the window's ids hold in
 * memory. Then each server is restarted on its store: the window is rebuilt from the stream's
 * messages, and the time until the stream answers again is its cost at start.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../devkit/nats-server.ts";
import { PipelinedPublisher } from "../internal/bus/mod.ts";
import { rssBytes } from "./proc.ts";
import { publishMany } from "./publish-many.ts";
import { fmtBytes, fmtCount } from "./stats.ts";

const messages = Number(process.argv[2] ?? 1_000_000);
const IN_FLIGHT = 2048;
/** As in seen-keys.ts: the block caches dropped and a few Go GC cycles run. */
const SETTLE_MS = 20_000;
const HOUR_NS = 3600 * 1e9;

interface Run {
  rss: number;
  before: number;
  perSec: number;
  /** From the restart until the stream's info answers. */
  restartMs: number;
}

async function run(withIds: boolean): Promise<Run> {
  const ns = await startNatsServer({ name: "dedupe-window" });
  try {
    let nc = await connect({ servers: ns.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "EV", subjects: ["ev.>"], duplicate_window: HOUR_NS });
    const before = rssBytes(ns.pid ?? -1) ?? NaN;
    const pub = new PipelinedPublisher(nc, "_INBOX");
    // About an envelope's size, as EVENTS stores them.
    const payload = new Uint8Array(200);
    const perSec = await publishMany(pub, messages, IN_FLIGHT, (i) => [
      `ev.c${i % 64}`,
      payload,
      // Event ids as jetmesh makes them: `<publisher>:<client id>`.
      withIds ? { msgID: `loadgen:${i.toString(36)}-${i}` } : undefined,
    ]);
    await nc.close();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const rss = rssBytes(ns.pid ?? -1) ?? NaN;
    const restarting = performance.now();
    await ns.restart();
    nc = await connect({ servers: ns.url });
    const again = await jetstreamManager(nc);
    for (;;) {
      try {
        await again.streams.info("EV");
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const restartMs = performance.now() - restarting;
    await nc.close();
    return { rss, before, perSec, restartMs };
  } finally {
    await ns.stop();
  }
}

const plain = await run(false);
const ids = await run(true);
const perId = (ids.rss - plain.rss) / messages;
const line = (what: string, r: Run) =>
  `${what}: RSS ${fmtBytes(r.before)} → ${fmtBytes(r.rss)} (${fmtCount(r.perSec)}/s), ` +
  `restart until the stream answers ${(r.restartMs / 1000).toFixed(1)} s`;
console.log(
  `${fmtCount(messages)} messages, duplicate window 1h; ${line("without msgIDs", plain)}; ${
    line("each with its own msgID", ids)
  }; per msgID in the window ${fmtBytes(perId)}`,
);

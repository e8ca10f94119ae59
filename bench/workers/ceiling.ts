/**
 * Raw JetStream ceilings on the bench's nats-server, with the same client and
 * connection options as the services (noAsyncTraces):
 * - publish: async publishes with a msgID, a window of them in flight;
 * - relay: one hop as route does it, without route's per-channel order or
 *   dedupe: consume A → publish to B with the msgID → ack A after the PubAck;
 * - serial: one publish at a time, for ack latency (the durability phase).
 * Each with the client's own `js.publish` ("stock") or with jetmesh's
 * pipelined publisher, so the ceiling is the better of the two.
 */
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { connect, headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { PipelinedPublisher, type StreamPublisher } from "../../internal/bus/mod.ts";
import { num, type Progress, serve, str } from "./rpc.ts";

/**
 * `url` is one server or, for a cluster, a list of them. The bench's server has users; the
 * ceilings make streams of their own, so they log in as admin (`user`, `pass`).
 */
async function open(args: Record<string, unknown>): Promise<NatsConnection> {
  const servers = Array.isArray(args.url) ? args.url.map(String) : str(args, "url");
  return await connect({
    servers,
    user: str(args, "user", "") || undefined,
    pass: str(args, "pass", "") || undefined,
    noAsyncTraces: true,
    name: "bench-ceiling",
  });
}

/**
 * The stream a publish measure writes to; `replicas` > 1 on a cluster. Adding an existing one
 * with the same config is a no-op.
 */
async function ensureStream(nc: NatsConnection, args: Record<string, unknown>): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: str(args, "stream"),
    subjects: [`${str(args, "prefix")}.>`],
    duplicate_window: 120e9,
    num_replicas: num(args, "replicas", 1),
  });
}

function publisher(nc: NatsConnection, args: Record<string, unknown>): StreamPublisher {
  const client = str(args, "client");
  if (client === "stock") return jetstream(nc);
  if (client === "pipelined") return new PipelinedPublisher(nc, "_INBOX");
  throw new Error(`unknown client ${client}`);
}

async function publishCeiling(args: Record<string, unknown>, progress: Progress) {
  const nc = await open(args);
  await ensureStream(nc, args);
  const prefix = str(args, "prefix");
  const js = publisher(nc, args);
  // Calls that write to one stream more than once need ids of their own: a repeated msgID is
  // acked as a duplicate without being stored.
  const tag = str(args, "idPrefix", str(args, "client"));
  // Publishes during the warm-up fill the window and the server's caches; only acks after it count.
  const warmupMs = num(args, "warmupMs", 0);
  const durationMs = num(args, "durationMs") + warmupMs;
  const window = num(args, "window", 1024);
  const channels = num(args, "channels", 64);
  const payload = new Uint8Array(num(args, "payloadBytes")).fill(0x61);
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let ackedAtMark = 0;
  let mark = 0;
  const start = performance.now();
  const warm = setTimeout(() => ((ackedAtMark = acked), (mark = performance.now())), warmupMs);
  const tick = setInterval(() => progress({ acked }), 1000);
  await new Promise<void>((done) => {
    let inflight = 0;
    const next = () => {
      while (inflight < window && performance.now() - start < durationMs) {
        const i = sent++;
        inflight++;
        js.publish(`${prefix}.c${i % channels}`, payload, {
          msgID: `${tag}-${i}`,
          headers: natsHeaders(),
        }).then(
          () => acked++,
          () => failed++,
        ).finally(() => {
          inflight--;
          if (inflight === 0 && performance.now() - start >= durationMs) done();
          else next();
        });
      }
    };
    next();
  });
  const end = performance.now();
  clearTimeout(warm);
  clearInterval(tick);
  await nc.close();
  if (warmupMs === 0) return { acked, failed, ms: end - start };
  return { acked: acked - ackedAtMark, failed, ms: end - mark };
}

/**
 * Ack latency of one publisher with one publish in flight: each publish waits
 * for the PubAck of the one before, so every sample is one store (and, with
 * `sync_interval: always`, one fsync) with nothing to batch it with.
 */
async function serialPublish(args: Record<string, unknown>, progress: Progress) {
  const nc = await open(args);
  await ensureStream(nc, args);
  const prefix = str(args, "prefix");
  const js = publisher(nc, args);
  const tag = str(args, "idPrefix");
  const warmupMs = num(args, "warmupMs", 0);
  const durationMs = num(args, "durationMs");
  const payload = new Uint8Array(num(args, "payloadBytes")).fill(0x61);
  const samples: number[] = [];
  let failed = 0;
  const start = performance.now();
  const tick = setInterval(() => progress({ acked: samples.length }), 1000);
  for (let i = 0;; i++) {
    const t0 = performance.now();
    if (t0 - start >= warmupMs + durationMs) break;
    try {
      await js.publish(`${prefix}.c${i % 64}`, payload, { msgID: `${tag}-${i}` });
      if (t0 - start >= warmupMs) samples.push(performance.now() - t0);
    } catch {
      failed++;
    }
  }
  clearInterval(tick);
  await nc.close();
  return { samples, failed };
}

async function relayCeiling(args: Record<string, unknown>, progress: Progress) {
  const nc = await open(args);
  const jsm = await jetstreamManager(nc);
  const from = str(args, "from");
  const to = str(args, "to");
  const fromPrefix = str(args, "fromPrefix");
  const toPrefix = str(args, "toPrefix");
  await jsm.streams.add({ name: to, subjects: [`${toPrefix}.>`], duplicate_window: 120e9 });
  const durable = `relay-${str(args, "client")}`;
  await jsm.consumers.add(from, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: num(args, "maxAckPending", 4096),
  });
  const js = publisher(nc, args);
  const consumer = await jetstream(nc).consumers.get(from, durable);
  const durationMs = num(args, "durationMs");
  const available = (await jsm.streams.info(from)).state.messages;
  let relayed = 0;
  let failed = 0;
  let start = 0;
  let end = 0;
  const tick = setInterval(() => progress({ relayed }), 1000);
  // A callback, not the async iterator: measured here, the iterator costs a third of the rate.
  let stop = () => {};
  await new Promise<void>((done) => {
    const finish = () => {
      if (end === 0) end = performance.now();
      stop();
      done();
    };
    consumer.consume({
      max_messages: 1024,
      callback: (m: JsMsg) => {
        if (start === 0) start = performance.now();
        const id = m.headers?.get("Nats-Msg-Id") || `r-${m.seq}`;
        js.publish(`${toPrefix}${m.subject.slice(fromPrefix.length)}`, m.data, { msgID: id }).then(
          () => {
            m.ack();
            relayed++;
            if (relayed >= available || performance.now() - start >= durationMs) finish();
          },
          () => failed++,
        );
      },
    }).then((messages) => (stop = () => messages.stop()), finish);
  });
  clearInterval(tick);
  await nc.close();
  return { relayed, failed, ms: end - start, exhausted: relayed >= available };
}

async function drop(args: Record<string, unknown>) {
  const nc = await open(args);
  const jsm = await jetstreamManager(nc);
  for (const s of (args.streams as string[]) ?? []) await jsm.streams.delete(s).catch(() => false);
  await nc.close();
  return null;
}

serve({ publish: publishCeiling, serial: serialPublish, relay: relayCeiling, drop });

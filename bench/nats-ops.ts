/**
 * What the pipeline asks of nats-server per event, from the server's own counters (its
 * monitoring endpoints /varz and /jsz), read before and after a measured window: messages
 * stored per stream, deliveries and acks per consumer, JetStream API requests, and messages in
 * and out of the server (publishes, acks, pull requests and KV gets in; deliveries, PubAcks and
 * replies out). Issue 14 asks for these per JetStream operation, before and after each cut.
 */
import type { NatsServerHandle } from "../devkit/nats-server.ts";

interface SeqPair {
  consumer_seq: number;
  stream_seq: number;
}
interface Jsz {
  api?: { total?: number };
  account_details?: Array<{
    stream_detail?: Array<{
      name: string;
      state: { last_seq: number };
      consumer_detail?: Array<{ name: string; delivered: SeqPair; ack_floor: SeqPair }>;
    }>;
  }>;
}

export interface NatsOpsSnapshot {
  inMsgs: number;
  outMsgs: number;
  api: number;
  /** Last sequence per stream: what it stored. */
  stored: Record<string, number>;
  /** Per consumer ("STREAM/name", route's partitions summed as STREAM/route-*). */
  delivered: Record<string, number>;
  acked: Record<string, number>;
}

/** Per event over a window: each figure divided by the events the window carried. */
export interface NatsOpsPerEvent {
  msgsIn: number;
  msgsOut: number;
  apiRequests: number;
  stored: Record<string, number>;
  delivered: Record<string, number>;
  acked: Record<string, number>;
}

/**
 * route-0..route-15 are one stage, summed under route-*; notify's ordered consumers (generated
 * names) under "ordered".
 */
const consumerKey = (stream: string, name: string) =>
  `${stream}/${
    /^route-\d+$/.test(name) ? "route-*" : /^[A-Za-z0-9]{16,}_\d+$/.test(name) ? "ordered" : name
  }`;

export async function natsOps(nats: NatsServerHandle): Promise<NatsOpsSnapshot> {
  const varz = await nats.monitor<{ in_msgs: number; out_msgs: number }>("/varz");
  const jsz = await nats.monitor<Jsz>("/jsz?accounts=true&streams=true&consumers=true");
  const s: NatsOpsSnapshot = {
    inMsgs: varz.in_msgs,
    outMsgs: varz.out_msgs,
    api: jsz.api?.total ?? 0,
    stored: {},
    delivered: {},
    acked: {},
  };
  for (const account of jsz.account_details ?? []) {
    for (const stream of account.stream_detail ?? []) {
      s.stored[stream.name] = (s.stored[stream.name] ?? 0) + stream.state.last_seq;
      for (const c of stream.consumer_detail ?? []) {
        const key = consumerKey(stream.name, c.name);
        s.delivered[key] = (s.delivered[key] ?? 0) + c.delivered.consumer_seq;
        s.acked[key] = (s.acked[key] ?? 0) + c.ack_floor.consumer_seq;
      }
    }
  }
  return s;
}

/** The window's counts per event; streams and consumers that did nothing are left out. */
export function perEvent(a: NatsOpsSnapshot, b: NatsOpsSnapshot, events: number): NatsOpsPerEvent {
  const n = Math.max(1, events);
  const diff = (x: Record<string, number>, y: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(y)
        .map(([k, v]) => [k, (v - (x[k] ?? 0)) / n] as const)
        .filter(([, v]) => v > 0),
    );
  return {
    msgsIn: (b.inMsgs - a.inMsgs) / n,
    msgsOut: (b.outMsgs - a.outMsgs) / n,
    apiRequests: (b.api - a.api) / n,
    stored: diff(a.stored, b.stored),
    delivered: diff(a.delivered, b.delivered),
    acked: diff(a.acked, b.acked),
  };
}

/** One line: "nats-server per event: stored INGEST 1.00, …; delivered …; acked …; …". */
export function natsOpsLine(p: NatsOpsPerEvent): string {
  const f = (r: Record<string, number>) =>
    Object.entries(r).sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ") || "none";
  const total = (r: Record<string, number>) => Object.values(r).reduce((s, v) => s + v, 0);
  return `nats-server per event: stream stores ${total(p.stored).toFixed(2)} (${f(p.stored)}); ` +
    `consumer deliveries ${total(p.delivered).toFixed(2)} (${f(p.delivered)}); ` +
    `acks ${total(p.acked).toFixed(2)} (${f(p.acked)}); JetStream API requests ${
      p.apiRequests.toFixed(2)
    }; messages in ${p.msgsIn.toFixed(2)}, out ${p.msgsOut.toFixed(2)}`;
}

import type { ConsumerInfo, JetStreamManager, StreamInfo } from "@nats-io/jetstream";
import { Gauge, type Registry } from "prom-client";

/**
 * JetStream state read at scrape time, not on a timer: nothing runs when
 * nobody scrapes, and a scrape always sees current numbers. A failed read
 * drops the series for that scrape instead of repeating a stale value.
 */

/**
 * One request per scrape however many gauges read it: the registry collects
 * all gauges at once, so they share the request in flight; the next scrape
 * asks again.
 */
function perScrape<T>(read: () => Promise<T>): () => Promise<T | undefined> {
  let inflight: Promise<T | undefined> | undefined;
  return () =>
    inflight ??= read().catch(() => undefined).finally(() => {
      inflight = undefined;
    });
}

function polled<T>(
  reg: Registry,
  name: string,
  help: string,
  labels: Record<string, string>,
  read: () => Promise<T | undefined>,
  pick: (v: T) => number,
): void {
  new Gauge({
    name,
    help,
    labelNames: Object.keys(labels),
    registers: [reg],
    async collect() {
      const v = await read();
      this.reset();
      if (v !== undefined) this.set(labels, pick(v));
    },
  });
}

/**
 * Lag of a durable consumer: what waits to be delivered, and what was delivered and awaits its
 * ack.
 */
export function consumerLag(
  reg: Registry,
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): void {
  const info = perScrape<ConsumerInfo>(() => jsm.consumers.info(stream, consumer));
  const labels = { stream, consumer };
  polled(
    reg,
    "jetmesh_consumer_num_pending",
    "Messages in the stream not yet delivered to the consumer",
    labels,
    info,
    (i) => i.num_pending,
  );
  polled(
    reg,
    "jetmesh_consumer_num_ack_pending",
    "Messages delivered and not yet acknowledged",
    labels,
    info,
    (i) => i.num_ack_pending,
  );
  polled(
    reg,
    "jetmesh_consumer_num_redelivered",
    "Messages delivered more than once and still unacknowledged",
    labels,
    info,
    (i) => i.num_redelivered,
  );
}

/** Messages held by each stream; for DLQ that is what waits for `make replay-dlq`. */
export function streamMessages(reg: Registry, jsm: JetStreamManager, streams: string[]): void {
  const infos = streams.map((s) => [s, perScrape<StreamInfo>(() => jsm.streams.info(s))] as const);
  new Gauge({
    name: "jetmesh_stream_messages",
    help: "Messages stored in the stream",
    labelNames: ["stream"],
    registers: [reg],
    async collect() {
      const values = await Promise.all(
        infos.map(async ([stream, info]) => [stream, await info()] as const),
      );
      this.reset();
      for (const [stream, si] of values) {
        if (si !== undefined) this.set({ stream }, si.state.messages);
      }
    },
  });
}

/** 1 while the NATS connection is up; readiness says the same with more detail. */
export function natsConnected(reg: Registry, connected: () => boolean): void {
  new Gauge({
    name: "jetmesh_nats_connected",
    help: "1 while the service's NATS connection is up, 0 while it reconnects",
    registers: [reg],
    collect() {
      this.set(connected() ? 1 : 0);
    },
  });
}

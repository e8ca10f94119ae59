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

function polled(
  reg: Registry,
  name: string,
  help: string,
  series: Array<{ labels: Record<string, string>; read: () => Promise<ConsumerInfo | undefined> }>,
  pick: (v: ConsumerInfo) => number,
): void {
  new Gauge({
    name,
    help,
    labelNames: ["stream", "consumer"],
    registers: [reg],
    async collect() {
      const values = await Promise.all(
        series.map(async (s) => [s.labels, await s.read()] as const),
      );
      this.reset();
      for (const [labels, v] of values) if (v !== undefined) this.set(labels, pick(v));
    },
  });
}

/**
 * Lag of durable consumers on one stream (route has one per partition): what waits to be
 * delivered, and what was delivered and awaits its ack; one series per consumer.
 */
export function consumerLag(
  reg: Registry,
  jsm: JetStreamManager,
  stream: string,
  consumers: string | string[],
): void {
  const series = (Array.isArray(consumers) ? consumers : [consumers]).map((consumer) => ({
    labels: { stream, consumer },
    read: perScrape<ConsumerInfo>(() => jsm.consumers.info(stream, consumer)),
  }));
  polled(
    reg,
    "jetmesh_consumer_num_pending",
    "Messages in the stream not yet delivered to the consumer",
    series,
    (i) => i.num_pending,
  );
  polled(
    reg,
    "jetmesh_consumer_num_ack_pending",
    "Messages delivered and not yet acknowledged",
    series,
    (i) => i.num_ack_pending,
  );
  polled(
    reg,
    "jetmesh_consumer_num_redelivered",
    "Messages delivered more than once and still unacknowledged",
    series,
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

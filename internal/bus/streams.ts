import {
  type Consumer,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type DurableConsumer, epochOf } from "../../subjects/mod.ts";
import type { Logger } from "../log/mod.ts";

type Config = Partial<StreamConfig> & { name: string };

/**
 * Creates each stream, or brings an existing one to the given config; the
 * server treats an identical create as a no-op. For the admin's tools and
 * tests: services never run it (their NATS users may not), the migration
 * (internal/migrate) creates and updates the streams.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  configs: Config[],
  log: Logger,
): Promise<void> {
  for (const cfg of configs) {
    try {
      await jsm.streams.add(cfg);
    } catch (err) {
      if (!(err instanceof JetStreamApiError)) throw err;
      // 10058: the stream exists with another config; move it to ours.
      if (err.code !== 10058) throw err;
      await jsm.streams.update(cfg.name, cfg);
      log.info("stream updated", { stream: cfg.name });
    }
  }
}

/**
 * Creates a service's own durable, or brings it to the service's config. route
 * and persist run this at start-up and whenever their durable vanishes; their
 * NATS users may create exactly that one durable and nothing on any stream.
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  c: DurableConsumer,
  log: Logger,
): Promise<void> {
  try {
    await jsm.consumers.add(c.stream, c.config);
  } catch (err) {
    if (!(err instanceof JetStreamApiError)) throw err;
    // 10148 / 10013: exists with another config; update the fields that may change.
    if (err.code !== 10148 && err.code !== 10013) throw err;
    await jsm.consumers.update(c.stream, c.config.durable_name, c.config);
    log.info("consumer updated", { stream: c.stream, consumer: c.config.durable_name });
  }
}

/** The stream's epoch for cursors: its creation time in ms. */
export async function streamEpoch(jsm: JetStreamManager, stream: string): Promise<number> {
  const si = await jsm.streams.info(stream);
  return epochOf(si.created);
}

/**
 * A worker's durable, made sure of (`ensureConsumer`) and bound to: route's and persist's start,
 * and their `reopen` when the durable vanished (an operator, a server that lost it) or the
 * connection came back.
 */
export function durableOpener(
  bus: { js: JetStreamClient; jsm: JetStreamManager },
  c: DurableConsumer,
  log: Logger,
): () => Promise<Consumer> {
  return async () => {
    await ensureConsumer(bus.jsm, c, log);
    return await bus.js.consumers.get(c.stream, c.config.durable_name);
  };
}

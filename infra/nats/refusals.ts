/**
 * For infra/nats/permissions.test.ts: what a user of users.conf is refused,
 * and a picture of everything on the server to prove a refusal changed nothing.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  bucketStream,
  CHECKPOINT_BUCKET,
  DLQ_STREAM,
  EVENTS_STREAM,
  INGEST_STREAM,
  PRESENCE_BUCKET,
  SEEN_BUCKET,
} from "../../subjects/mod.ts";

/** Every stream jetmesh has, the buckets' included. */
export const ALL_STREAMS = [
  INGEST_STREAM,
  EVENTS_STREAM,
  DLQ_STREAM,
  bucketStream(SEEN_BUCKET),
  bucketStream(PRESENCE_BUCKET),
  bucketStream(CHECKPOINT_BUCKET),
];

/**
 * What could change a stream's config or contents, as the JetStream API spells it, with a
 * request body that would do it.
 */
export function streamChanges(
  stream: string,
  config: Record<string, unknown>,
): Array<[string, string, unknown]> {
  return [
    ["create", `$JS.API.STREAM.CREATE.${stream}`, config],
    ["update (max_msgs 1)", `$JS.API.STREAM.UPDATE.${stream}`, { ...config, max_msgs: 1 }],
    ["delete", `$JS.API.STREAM.DELETE.${stream}`, undefined],
    ["purge", `$JS.API.STREAM.PURGE.${stream}`, {}],
    ["delete a message of", `$JS.API.STREAM.MSG.DELETE.${stream}`, { seq: 1 }],
  ];
}

export interface Snapshot {
  streams: Record<string, { created: string; config: unknown; messages: number; lastSeq: number }>;
  consumers: Record<string, { config: unknown; delivered: number; ackFloor: number }>;
}

/**
 * Each stream's config and contents, and each durable's config and position (ordered consumers
 * come and go, durables must not).
 */
export async function snapshot(jsm: JetStreamManager): Promise<Snapshot> {
  const out: Snapshot = { streams: {}, consumers: {} };
  for (const name of ALL_STREAMS) {
    const si = await jsm.streams.info(name);
    out.streams[name] = {
      created: si.created,
      config: si.config,
      messages: si.state.messages,
      lastSeq: si.state.last_seq,
    };
    for await (const ci of jsm.consumers.list(name)) {
      if (!ci.config.durable_name) continue;
      out.consumers[`${name}/${ci.name}`] = {
        config: ci.config,
        delivered: ci.delivered.stream_seq,
        ackFloor: ci.ack_floor.stream_seq,
      };
    }
  }
  return out;
}

/**
 * Resolves with the error nats-server sends back for a request; throws when it was answered
 * instead.
 */
export async function requestRefusal(
  nc: NatsConnection,
  subject: string,
  body: unknown,
): Promise<unknown> {
  const payload = body === undefined ? "" : JSON.stringify(body);
  const reply = await nc.request(subject, payload, { timeout: 3000 }).then(
    (m) => m.string(),
    (err: unknown) => err,
  );
  if (typeof reply === "string") throw new Error(`answered: ${reply}`);
  return reply;
}

/**
 * Publishes without a reply and resolves with the permissions error the server sends back (as a
 * connection status).
 */
export async function publishRefusal(
  nc: NatsConnection,
  subject: string,
  data = "x",
): Promise<unknown> {
  const status = nc.status()[Symbol.asyncIterator]();
  nc.publish(subject, data);
  await nc.flush();
  const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000));
  for (;;) {
    const s = await Promise.race([status.next().then((r) => r.value), timeout]);
    if (s === undefined) throw new Error(`no refusal for ${subject}`);
    if (s.type === "error" && String(s.error).includes(subject)) return s.error;
  }
}

/**
 * Subscribes and resolves with the error that closes the subscription; throws when it stays
 * open.
 */
export async function subscribeRefusal(nc: NatsConnection, subject: string): Promise<unknown> {
  const sub = nc.subscribe(subject);
  await nc.flush();
  const err = await Promise.race([
    sub.closed,
    new Promise<"open">((r) => setTimeout(() => r("open"), 2000)),
  ]);
  if (err === "open") {
    sub.unsubscribe();
    throw new Error(`subscribed to ${subject}`);
  }
  return err;
}

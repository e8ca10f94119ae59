import type { JetStreamClient } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { SEEN_BUCKET, SEEN_BUCKET_DESCRIPTION } from "../../subjects/mod.ts";
import { type PipelinedPublisher, statusError } from "../bus/mod.ts";

/** Event ids are visible ASCII; KV keys allow only [-/_=.A-Za-z0-9]. base64url maps one onto the other without collisions. */
export function seenKey(eventId: string): string {
  return btoa(eventId).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The INGEST message whose event was routed under an id. */
export interface RoutedFrom {
  seq: number;
}

const ROUTED = ":routed";
const STREAM = `KV_${SEEN_BUCKET}`;
/** Set on the delete and purge markers KV leaves in place of a value. */
const KV_OPERATION = "KV-Operation";
const NOT_FOUND = 404;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const empty = new Uint8Array(0);

function subjectOf(key: string): string {
  return `$KV.${SEEN_BUCKET}.${key}`;
}

/**
 * Remembers, for `ttlMs`, which INGEST message each routed event id came in,
 * so that an event is not routed and delivered a second time when it comes
 * back after JetStream's duplicate windows (minutes, because they live in
 * memory; this lives on disk): a client that retries an hour later, or an
 * INGEST message redelivered long after it was routed (nats-server 2.9 can
 * lose a durable consumer's acks on kill -9 and deliver from an older floor
 * again).
 *
 * One write per event, after its PubAck from EVENTS, and one read before it
 * is published, a direct get, which costs the server no write. A crash
 * between the PubAck and the write leaves the id unrecorded: the redelivery
 * publishes again and EVENTS drops the copy by its msgID, within the
 * duplicate window as ever. Both go through the route's pipelined publisher.
 */
export class SeenIds {
  readonly #pub: PipelinedPublisher;

  private constructor(pub: PipelinedPublisher) {
    this.#pub = pub;
  }

  static async open(js: JetStreamClient, pub: PipelinedPublisher, ttlMs: number, replicas: number): Promise<SeenIds> {
    const kv = await new Kvm(js).create(SEEN_BUCKET, {
      ttl: ttlMs,
      replicas,
      history: 1,
      // Direct gets are what `routed` reads with.
      allow_direct: true,
      description: SEEN_BUCKET_DESCRIPTION,
    });
    // create() binds to an existing bucket as it is: bring an older description up to date,
    // so that `nats kv ls` on an upgraded deployment says what the bucket holds now.
    const { streamInfo } = await kv.status();
    if (streamInfo.config.description !== SEEN_BUCKET_DESCRIPTION) {
      const jsm = await js.jetstreamManager();
      await jsm.streams.update(streamInfo.config.name, { ...streamInfo.config, description: SEEN_BUCKET_DESCRIPTION });
    }
    return new SeenIds(pub);
  }

  /** The INGEST message `eventId` was routed from, if it was (within the TTL). */
  async routed(eventId: string): Promise<RoutedFrom | undefined> {
    const key = seenKey(eventId);
    const m = await this.#pub.request(`$JS.API.DIRECT.GET.${STREAM}.${subjectOf(key)}`, empty);
    const h = m.headers;
    if (h?.hasError) {
      if (h.code === NOT_FOUND) return undefined;
      throw statusError(h, subjectOf(key));
    }
    // A purge or delete marker: the id was given up.
    if (h?.get(KV_OPERATION)) return undefined;
    const value = decoder.decode(m.data);
    if (!value.endsWith(ROUTED)) return undefined;
    return { seq: Number(value.slice(0, -ROUTED.length)) };
  }

  /** Records that the event of INGEST message `seq` was published to EVENTS (its PubAck came). */
  async markRouted(eventId: string, seq: number): Promise<void> {
    await this.#pub.publish(subjectOf(seenKey(eventId)), encoder.encode(`${seq}${ROUTED}`));
  }
}

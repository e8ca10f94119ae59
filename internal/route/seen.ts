import type { JetStreamClient } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { SEEN_BUCKET } from "../../subjects/mod.ts";
import { openBucket, type PipelinedPublisher, statusError } from "../bus/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";

/**
 * Event ids are visible ASCII; KV keys allow only [-/_=.A-Za-z0-9]. base64url maps one onto the
 * other without collisions.
 */
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
 *
 * Dedupe (docs/dedupe.md): the hop past the duplicate windows.
 */
export class SeenIds {
  readonly #pub: PipelinedPublisher;

  private constructor(pub: PipelinedPublisher) {
    this.#pub = pub;
  }

  /**
   * Checks that the bucket exists (the migration creates it; route's NATS user
   * may not) and that it keeps ids as long as ROUTE_DEDUPE_TTL says.
   */
  static async open(
    js: JetStreamClient,
    pub: PipelinedPublisher,
    ttlMs: number,
    log: Logger,
  ): Promise<SeenIds> {
    const { info } = await openBucket(js, SEEN_BUCKET, "route");
    // A TTL that differs only changes how long ids are remembered: worth a warning, not a
    // refusal to route.
    if (info.config.max_age !== nanos(ttlMs)) {
      log.warn(
        "jetmesh_seen keeps ids for another time than ROUTE_DEDUPE_TTL: run the migration (make migrate) with this value",
        {
          bucket_ttl_ms: Math.round(info.config.max_age / 1e6),
          ttl_ms: ttlMs,
        },
      );
    }
    // `routed` reads with direct gets, which a bucket without allow_direct does not answer.
    if (!info.config.allow_direct) {
      throw new JetmeshError(
        "not_migrated",
        "KV bucket jetmesh_seen does not allow direct gets: run the migration as the NATS admin user (make migrate)",
      );
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

import type { JetStreamClient } from "@nats-io/jetstream";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { SEEN_BUCKET } from "../../subjects/mod.ts";
import type { Publisher } from "../bus/mod.ts";

/** Event ids are visible ASCII; KV keys allow only [-/_=.A-Za-z0-9]. base64url maps one onto the other without collisions. */
export function seenKey(eventId: string): string {
  return btoa(eventId).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Who holds an event id: the INGEST sequence that first carried it, and whether its publish to EVENTS was acked. */
export interface Claim {
  seq: number;
  routed: boolean;
}

const ROUTED = ":routed";
const EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence";
const encoder = new TextEncoder();

function subjectOf(key: string): string {
  return `$KV.${SEEN_BUCKET}.${key}`;
}

function parseClaim(value: string): Claim {
  const routed = value.endsWith(ROUTED);
  return { seq: Number(routed ? value.slice(0, -ROUTED.length) : value), routed };
}

/**
 * Remembers which INGEST message first carried each event id, and whether it
 * was routed, for `ttlMs`. JetStream's duplicate windows are short (minutes)
 * because they live in memory; this lives on disk, so an event is not routed
 * and delivered a second time when it comes back later: a client that retries
 * an hour later, or an INGEST message redelivered long after it was routed
 * (nats-server 2.9 can lose a durable consumer's acks on kill -9 and deliver
 * from an older floor again).
 */
export class SeenIds {
  readonly #kv: KV;
  /** Claims and marks are plain publishes to the bucket's subjects: two per event, so they take the cheap path. */
  readonly #pub: Publisher;

  private constructor(kv: KV, pub: Publisher) {
    this.#kv = kv;
    this.#pub = pub;
  }

  static async open(js: JetStreamClient, pub: Publisher, ttlMs: number, replicas: number): Promise<SeenIds> {
    const kv = await new Kvm(js).create(SEEN_BUCKET, {
      ttl: ttlMs,
      replicas,
      history: 1,
      description: "jetmesh route: event ids already routed, for dedupe past the duplicate windows",
    });
    return new SeenIds(kv, pub);
  }

  /**
   * Claims `eventId` for INGEST sequence `seq` and returns who holds the
   * claim: `seq` itself for a new id or a redelivery of the same message
   * (`routed` once `markRouted` recorded its PubAck), another sequence for a
   * late retry of an event already claimed.
   */
  async claim(eventId: string, seq: number): Promise<Claim> {
    const key = seenKey(eventId);
    try {
      // What kv.create does: store only if the key has no entry yet.
      const h = natsHeaders();
      h.set(EXPECTED_LAST_SUBJECT_SEQ, "0");
      await this.#pub.publish(subjectOf(key), encoder.encode(String(seq)), { headers: h });
      return { seq, routed: false };
    } catch (err) {
      const exists = err instanceof JetStreamApiError &&
        (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
      if (!exists) throw err;
      const entry = await this.#kv.get(key);
      // Gone between create and get (expired): the claim is free again.
      if (entry === null || entry.operation !== "PUT") return this.claim(eventId, seq);
      return parseClaim(entry.string());
    }
  }

  /** Records that the holder's publish to EVENTS was acked: a later redelivery of it needs no publish. */
  async markRouted(eventId: string, seq: number): Promise<void> {
    await this.#pub.publish(subjectOf(seenKey(eventId)), encoder.encode(`${seq}${ROUTED}`));
  }

  /** Gives up the claim of an event that was not routed after all (parked on DLQ), so a replay of it is routed. */
  async release(eventId: string): Promise<void> {
    await this.#kv.purge(seenKey(eventId));
  }
}

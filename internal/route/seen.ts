import type { JetStreamClient } from "@nats-io/jetstream";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { SEEN_BUCKET } from "../../subjects/mod.ts";

/** Event ids are visible ASCII; KV keys allow only [-/_=.A-Za-z0-9]. base64url maps one onto the other without collisions. */
export function seenKey(eventId: string): string {
  return btoa(eventId).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Remembers which INGEST message first carried each event id, for `ttlMs`.
 * JetStream's duplicate windows are short (minutes) because they live in
 * memory; this lives on disk, so a client that retries an hour later is still
 * recognised and its event is neither routed nor delivered a second time.
 */
export class SeenIds {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open(js: JetStreamClient, ttlMs: number, replicas: number): Promise<SeenIds> {
    const kv = await new Kvm(js).create(SEEN_BUCKET, {
      ttl: ttlMs,
      replicas,
      history: 1,
      description: "jetmesh route: event ids already routed, for dedupe past the duplicate windows",
    });
    return new SeenIds(kv);
  }

  /**
   * Claims `eventId` for INGEST sequence `seq` and returns the sequence that
   * holds the claim: `seq` itself for a new id or a redelivery of the same
   * message, another sequence for a late retry of an event already routed.
   */
  async claim(eventId: string, seq: number): Promise<number> {
    const key = seenKey(eventId);
    try {
      await this.#kv.create(key, String(seq));
      return seq;
    } catch (err) {
      const exists = err instanceof JetStreamApiError &&
        (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
      if (!exists) throw err;
      const entry = await this.#kv.get(key);
      // Gone between create and get (expired): the claim is free again.
      if (entry === null || entry.operation !== "PUT") return this.claim(eventId, seq);
      return Number(entry.string());
    }
  }

  /** Gives up the claim of an event that was not routed after all (parked on DLQ), so a replay of it is routed. */
  async release(eventId: string): Promise<void> {
    await this.#kv.purge(seenKey(eventId));
  }
}

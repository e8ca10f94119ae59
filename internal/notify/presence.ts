import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/transport-node";
import {
  parsePresenceKey,
  PRESENCE_BUCKET,
  type PresenceEntry,
  presenceKey,
} from "../../subjects/mod.ts";
import { openBucket, withRetry } from "../bus/mod.ts";
import { Inflight } from "../lifecycle/mod.ts";
import type { Logger } from "../log/mod.ts";
import { type PresenceChange, PresenceView } from "./presence-view.ts";

export interface PresenceOptions {
  /**
   * An entry nobody refreshed for this long is gone: NOTIFY_PRESENCE_TTL. The
   * bucket's max age (set by the migration) wins when the two differ.
   */
  ttlMs: number;
  log: Logger;
}

export type PresenceListener = (change: PresenceChange) => void;

/** How long a join waits for the watcher to show it before answering anyway. */
const WATCH_WAIT_MS = 2000;

/**
 * Presence across every notify process, in the KV bucket `jetmesh_presence`:
 * one entry per (channel, member, session), written by the notify holding the
 * session and refreshed every third of the TTL. Each notify watches the
 * whole bucket into a PresenceView and tells its local listeners about
 * members appearing and disappearing.
 *
 * A notify that stops cleanly deletes its entries. One that crashes leaves
 * them behind; they stop being refreshed, every watcher's sweeper drops them
 * once they are a TTL old (reporting a leave), and the bucket's max age
 * removes them from the server too. nats-server 2.9 sends no delete
 * notification when max age removes an entry, hence the sweepers.
 */
export class Presence {
  readonly #kv: KV;
  readonly #o: PresenceOptions;
  readonly #view = new PresenceView();
  readonly #listeners = new Map<string, Set<PresenceListener>>();
  /** Entries of this process's sessions, refreshed by the heartbeat. */
  readonly #local = new Map<string, PresenceEntry>();
  readonly #writes = new Inflight();
  #revision = 0;
  #revisionWaiters: Array<{ revision: number; resolve: () => void }> = [];
  #watcher?: QueuedIterator<KvWatchEntry>;
  #timers: Array<ReturnType<typeof setInterval>> = [];
  #generation = 0;
  readonly #closing = new AbortController();

  private constructor(kv: KV, o: PresenceOptions) {
    this.#kv = kv;
    this.#o = o;
  }

  /** Binds to the bucket the migration created (notify's NATS user may not create or change it). */
  static async open(js: JetStreamClient, o: PresenceOptions): Promise<Presence> {
    const { kv, info } = await openBucket(js, PRESENCE_BUCKET, "notify");
    // Entries vanish on the server at the bucket's max age; the sweepers and the
    // heartbeat must go by the same age, so the bucket's wins over the setting.
    const bucketTtlMs = Math.round(info.config.max_age / 1e6);
    if (bucketTtlMs > 0 && bucketTtlMs !== o.ttlMs) {
      o.log.warn(
        "jetmesh_presence has another TTL than NOTIFY_PRESENCE_TTL: using the bucket's; run the migration (make migrate) to change it",
        {
          bucket_ttl_ms: bucketTtlMs,
          ttl_ms: o.ttlMs,
        },
      );
      o = { ...o, ttlMs: bucketTtlMs };
    }
    const p = new Presence(kv, o);
    await p.#watch();
    p.#timers.push(setInterval(() => p.#heartbeat(), Math.max(100, Math.floor(o.ttlMs / 3))));
    p.#timers.push(
      setInterval(() => p.#sweep(), Math.max(100, Math.min(1000, Math.floor(o.ttlMs / 4)))),
    );
    return p;
  }

  /** Puts a session into a channel; resolves once this process's view shows it. */
  async join(e: PresenceEntry): Promise<void> {
    const key = presenceKey(e);
    this.#local.set(key, e);
    const write = this.#kv.put(key, refreshed());
    this.#writes.track(write);
    await this.#seen(await write);
  }

  async leave(e: PresenceEntry): Promise<void> {
    const key = presenceKey(e);
    if (!this.#local.delete(key)) return;
    const write = this.#kv.delete(key);
    this.#writes.track(write);
    await write;
  }

  members(channel: string): string[] {
    return this.#view.members(channel);
  }

  /**
   * Calls `listener` for every member joining or leaving `channel` until the returned function
   * is called.
   */
  watch(channel: string, listener: PresenceListener): () => void {
    let set = this.#listeners.get(channel);
    if (!set) this.#listeners.set(channel, set = new Set());
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(channel) === set) this.#listeners.delete(channel);
    };
  }

  /**
   * Waits for pending deletes (sessions closed during shutdown), then stops refreshing and
   * watching.
   */
  async close(): Promise<void> {
    await this.#writes.settled();
    this.#closing.abort();
    for (const t of this.#timers) clearInterval(t);
    this.#watcher?.stop();
    for (const w of this.#revisionWaiters.splice(0)) w.resolve();
  }

  /**
   * Replaces the watcher with one that continues after the last revision
   * seen. Called after NATS reconnects, for the same reason as
   * Subscription.restart: the library's own recovery can take 30 s.
   */
  resync(): void {
    const generation = ++this.#generation;
    this.#watcher?.stop();
    this.#watcher = undefined;
    withRetry(() => this.#kv.watch({ key: ">", resumeFromRevision: this.#revision + 1 }), {
      signal: this.#closing.signal,
    })
      .then((watcher) => {
        if (generation !== this.#generation || this.#closing.signal.aborted) return watcher.stop();
        this.#pump(watcher);
      })
      .catch((err) => this.#o.log.warn("presence watcher not restarted", { err }));
  }

  /**
   * Starts the watcher and returns once it delivered the bucket's current entries (or after a
   * bounded wait).
   */
  async #watch(): Promise<void> {
    const empty = (await this.#kv.status()).values === 0;
    const initial = this.#pump(await this.#kv.watch({ key: ">" }));
    if (!empty) await withTimeout(initial, WATCH_WAIT_MS);
  }

  /**
   * Applies what the watcher delivers; resolves once it has delivered everything the bucket
   * held when it started.
   */
  #pump(watcher: QueuedIterator<KvWatchEntry>): Promise<void> {
    this.#watcher = watcher;
    let synced: () => void = () => {};
    const initial = new Promise<void>((resolve) => (synced = resolve));
    (async () => {
      for await (const entry of watcher) {
        this.#apply(entry);
        // delta is what the consumer still had pending: 0 means the snapshot is complete.
        if (entry.delta === 0) synced();
      }
    })().catch((err) => this.#o.log.error("presence watcher stopped", { err }));
    return initial;
  }

  #apply(entry: KvWatchEntry): void {
    const e = parsePresenceKey(entry.key);
    if (e) {
      this.#emit(
        entry.operation === "PUT"
          ? this.#view.put(e, entry.created.getTime())
          : this.#view.remove(e),
      );
    }
    this.#revision = Math.max(this.#revision, entry.revision);
    const ready = this.#revisionWaiters.filter((w) => w.revision <= this.#revision);
    this.#revisionWaiters = this.#revisionWaiters.filter((w) => w.revision > this.#revision);
    for (const w of ready) w.resolve();
  }

  #seen(revision: number): Promise<void> {
    if (revision <= this.#revision) return Promise.resolve();
    return withTimeout(
      new Promise<void>((resolve) => this.#revisionWaiters.push({ revision, resolve })),
      WATCH_WAIT_MS,
    );
  }

  #emit(change: PresenceChange | undefined): void {
    if (!change) return;
    for (const listener of this.#listeners.get(change.channel) ?? []) listener(change);
  }

  #heartbeat(): void {
    for (const [key, e] of this.#local) {
      this.#kv.put(key, refreshed()).catch((err) =>
        this.#o.log.warn("presence refresh failed", { err, channel: e.channel, member: e.member })
      );
    }
  }

  #sweep(): void {
    for (const change of this.#view.expire(Date.now() - this.#o.ttlMs)) this.#emit(change);
  }
}

/**
 * The value of an entry says when it was last written; only the key and its age matter to
 * notify.
 */
function refreshed(): string {
  return JSON.stringify({ at: Date.now() });
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))])
    .finally(() => clearTimeout(timer));
}

/**
 * Checkpoints of processing engines in a NATS KV bucket, one per (namespace,
 * partition): the `encodeSnapshot` bytes, which carry the INGEST position they
 * cover. After kill -9 route loads the last one and replays INGEST from the
 * position after it (docs/processing.md "How route runs it").
 *
 * Layout, per (namespace, partition):
 * - `m.<ns>.<p>`: the manifest, a JSON header line, then (small snapshots) the
 *   snapshot bytes themselves: one write per checkpoint in the common case.
 * - `c.<ns>.<p>.<gen>.<i>`: chunks of a snapshot larger than the server's
 *   max_payload (the engine's can pass 1 MB, the default max_payload). Chunks are
 *   written first and the manifest last, so a crash mid-write leaves the previous
 *   manifest, and its chunks, valid; the previous generation's chunks are deleted
 *   only after the new manifest is in.
 *
 * Ownership: every manifest write is a KV `update` at the revision this handle
 * last read or wrote. `load` itself rewrites the manifest (or creates an empty
 * one), so a new owner fences the previous one at once: the old owner's next
 * `save` fails with CheckpointConflictError instead of overwriting newer state.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { CHECKPOINT_BUCKET, CHECKPOINT_BUCKET_CONFIG } from "../../subjects/buckets.ts";
import { decodeSnapshot, encodeSnapshot, type EngineSnapshot } from "./snapshot.ts";

/** Room left in each message for the subject, headers and KV's own fields. */
const HEADROOM = 4096;
/** A chunk count past this means a corrupt manifest (or 4 GB of state): refuse it. */
const MAX_CHUNKS = 4096;
const LOAD_ATTEMPTS = 3;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class CheckpointConflictError extends Error {
  override name = "CheckpointConflictError";
}

export class CheckpointCorruptError extends Error {
  override name = "CheckpointCorruptError";
}

interface Manifest {
  v: 1;
  /** Absent in the empty manifest a first owner writes to claim the key. */
  gen?: string;
  /** 0: the snapshot follows the header line in the manifest itself. */
  chunks?: number;
  bytes?: number;
  sha256?: string;
  /** Copied from the snapshot, for inspection with `nats kv get`. */
  position?: unknown;
}

/** KV keys allow [-/_=.A-Za-z0-9]: base64url the namespace name (no dots in it then). */
function nsKey(namespace: string): string {
  return btoa(String.fromCharCode(...encoder.encode(namespace))).replace(/\+/g, "-")
    .replace(/\//g, "_").replace(/=+$/, "");
}

async function sha256(b: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>));
  return [...d].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function isWrongRevision(err: unknown): boolean {
  // nats.js: JetStreamApiError 10071 "wrong last sequence", or 10058 on create of an existing key.
  const e = err as { code?: unknown; api_error?: { err_code?: number } } | undefined;
  const code = e?.api_error?.err_code ?? e?.code;
  return code === 10071 || code === 10058 || /wrong last sequence|key exists/i.test(String(err));
}

function join(header: Manifest, body?: Uint8Array): Uint8Array {
  const h = encoder.encode(`${JSON.stringify(header)}\n`);
  if (!body) return h;
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  return out;
}

function split(value: Uint8Array): { header: Manifest; body: Uint8Array } {
  const nl = value.indexOf(0x0a);
  if (nl < 0) throw new CheckpointCorruptError("checkpoint manifest has no header line");
  let header: Manifest;
  try {
    header = JSON.parse(decoder.decode(value.subarray(0, nl)));
  } catch (err) {
    throw new CheckpointCorruptError("checkpoint manifest header is not JSON", { cause: err });
  }
  if (header?.v !== 1) throw new CheckpointCorruptError("checkpoint manifest is not version 1");
  return { header, body: value.subarray(nl + 1) };
}

export interface CheckpointStoreOptions {
  /** Largest message the server takes; default: the connection's server info max_payload. */
  maxPayload?: number;
}

/**
 * Creates the bucket if missing, for tests of this module alone; route binds to the one the
 * migration creates (subjects/buckets.ts).
 */
export async function ensureCheckpointBucket(js: JetStreamClient, replicas = 1): Promise<KV> {
  return await new Kvm(js).create(CHECKPOINT_BUCKET, {
    ...CHECKPOINT_BUCKET_CONFIG,
    replicas,
    allow_direct: true,
  });
}

export class CheckpointStore {
  readonly #kv: KV;
  readonly #chunkBytes: number;

  constructor(nc: NatsConnection, kv: KV, o: CheckpointStoreOptions = {}) {
    const max = o.maxPayload ?? nc.info?.max_payload ?? 1024 * 1024;
    this.#kv = kv;
    this.#chunkBytes = Math.max(1024, max - HEADROOM);
  }

  /** The handle of one (namespace, partition); one owner at a time (see `load`). */
  partition(namespace: string, partition: number): PartitionCheckpoint {
    return new PartitionCheckpoint(this.#kv, this.#chunkBytes, nsKey(namespace), partition);
  }
}

export interface Loaded {
  /** Undefined when nothing was checkpointed yet: start empty, replay from the beginning. */
  snapshot: EngineSnapshot | undefined;
}

export class PartitionCheckpoint {
  readonly #kv: KV;
  readonly #chunkBytes: number;
  readonly #manifestKey: string;
  readonly #chunkPrefix: string;
  /** The manifest revision this owner wrote or claimed last; undefined before `load`. */
  #revision: number | undefined;
  /** Generation of the chunks the current manifest points to (deleted once replaced). */
  #gen: string | undefined;
  /** Generation of a manifest write whose answer never came: it may be the current one. */
  #unconfirmed: string | undefined;

  constructor(kv: KV, chunkBytes: number, ns: string, partition: number) {
    this.#kv = kv;
    this.#chunkBytes = chunkBytes;
    this.#manifestKey = `m.${ns}.${partition}`;
    this.#chunkPrefix = `c.${ns}.${partition}`;
  }

  /**
   * Reads the last checkpoint and takes ownership: the manifest is rewritten at
   * its revision, so a previous owner's next save fails. Chunks of generations no
   * manifest points to (a crash between chunks and manifest) are deleted.
   */
  async load(): Promise<Loaded> {
    for (let attempt = 1;; attempt++) {
      const e = await this.#kv.get(this.#manifestKey);
      const present = e !== null && e.operation === "PUT";
      try {
        if (!present) {
          const empty = join({ v: 1 });
          this.#revision = e === null
            ? await this.#kv.create(this.#manifestKey, empty)
            : await this.#kv.update(this.#manifestKey, empty, e.revision);
          this.#gen = undefined;
          await this.#sweep(undefined);
          return { snapshot: undefined };
        }
        const { header, body } = split(e.value);
        const bytes = await this.#read(header, body);
        // Claim: the same value at a new revision.
        this.#revision = await this.#kv.update(this.#manifestKey, e.value, e.revision);
        this.#gen = header.gen;
        await this.#sweep(header.gen);
        return { snapshot: bytes === undefined ? undefined : decodeSnapshot(bytes) };
      } catch (err) {
        // Another owner wrote in between, or replaced the chunks we were reading: read again.
        const retry = isWrongRevision(err) || err instanceof MissingChunkError;
        if (!retry || attempt >= LOAD_ATTEMPTS) {
          if (err instanceof MissingChunkError) throw new CheckpointCorruptError(err.message);
          if (isWrongRevision(err)) {
            throw new CheckpointConflictError("checkpoint taken over while loading", {
              cause: err,
            });
          }
          throw err;
        }
      }
    }
  }

  /**
   * Writes `s` (its position included) after the previous checkpoint of this
   * owner. CheckpointConflictError: another owner loaded or wrote since; this one
   * must stop processing the partition (the other holds newer state).
   */
  async save(s: EngineSnapshot): Promise<void> {
    if (this.#revision === undefined) throw new Error("checkpoint: save before load");
    const bytes = encodeSnapshot(s);
    const gen = crypto.randomUUID().replaceAll("-", "");
    const header: Manifest = { v: 1, gen, bytes: bytes.length, position: s.position };
    header.sha256 = await sha256(bytes);
    const inline = join({ ...header, chunks: 0 }, bytes);
    let value: Uint8Array;
    if (inline.length <= this.#chunkBytes) {
      value = inline;
    } else {
      const n = Math.ceil(bytes.length / this.#chunkBytes);
      if (n > MAX_CHUNKS) {
        throw new Error(`checkpoint: snapshot of ${bytes.length} bytes too large`);
      }
      // Chunks first: until the manifest names them they are invisible.
      for (let i = 0; i < n; i++) {
        const part = bytes.subarray(i * this.#chunkBytes, (i + 1) * this.#chunkBytes);
        await this.#kv.put(`${this.#chunkPrefix}.${gen}.${i}`, part);
      }
      value = join({ ...header, chunks: n });
    }
    let revision: number;
    try {
      revision = await this.#update(value);
    } catch (err) {
      if (err instanceof CheckpointConflictError) {
        // Definitely not ours: these chunks are named by no manifest.
        await this.#deleteGen(gen).catch(() => {});
      } else {
        // No answer (a timeout): the write may have landed. Its chunks stay (a load sweeps
        // them if not), and the next save recognises its own manifest.
        this.#unconfirmed = gen;
      }
      throw err;
    }
    const previous = this.#gen;
    this.#revision = revision;
    this.#gen = gen;
    this.#unconfirmed = undefined;
    // Best effort: a leftover generation is swept by the next load.
    if (previous !== undefined) await this.#deleteGen(previous).catch(() => {});
  }

  /** The manifest update at our revision; a wrong revision that is our own lost answer is adopted. */
  async #update(value: Uint8Array): Promise<number> {
    try {
      return await this.#kv.update(this.#manifestKey, value, this.#revision!);
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
      const e = await this.#kv.get(this.#manifestKey);
      const mine = this.#unconfirmed !== undefined && e !== null && e.operation === "PUT" &&
        split(e.value).header.gen === this.#unconfirmed;
      if (mine) {
        // The earlier save did land: continue from it (its chunks are the current ones now).
        this.#revision = e!.revision;
        this.#gen = this.#unconfirmed;
        this.#unconfirmed = undefined;
        return await this.#update(value);
      }
      const since = this.#revision;
      this.#revision = undefined;
      throw new CheckpointConflictError(
        `checkpoint ${this.#manifestKey}: another owner wrote since revision ${since}`,
        { cause: err },
      );
    }
  }

  async #read(header: Manifest, body: Uint8Array): Promise<Uint8Array | undefined> {
    if (header.gen === undefined) return undefined;
    const n = header.chunks ?? -1;
    if (!Number.isInteger(n) || n < 0 || n > MAX_CHUNKS) {
      throw new CheckpointCorruptError(`checkpoint manifest has chunks ${String(n)}`);
    }
    let bytes = body;
    if (n > 0) {
      const parts: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const c = await this.#kv.get(`${this.#chunkPrefix}.${header.gen}.${i}`);
        if (c === null || c.operation !== "PUT") {
          throw new MissingChunkError(`checkpoint chunk ${i} of ${header.gen} is missing`);
        }
        parts.push(c.value);
      }
      bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of parts) {
        bytes.set(p, at);
        at += p.length;
      }
    }
    if (bytes.length !== header.bytes || (await sha256(bytes)) !== header.sha256) {
      throw new CheckpointCorruptError(`checkpoint ${header.gen}: size or sha256 differs`);
    }
    return bytes;
  }

  async #chunkKeys(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.#kv.keys(`${this.#chunkPrefix}.>`)) out.push(k);
    return out;
  }

  /** Deletes every chunk not of `keep`. */
  async #sweep(keep: string | undefined): Promise<void> {
    const prefix = keep === undefined ? undefined : `${this.#chunkPrefix}.${keep}.`;
    for (const k of await this.#chunkKeys()) {
      if (prefix === undefined || !k.startsWith(prefix)) await this.#kv.purge(k);
    }
  }

  async #deleteGen(gen: string): Promise<void> {
    const prefix = `${this.#chunkPrefix}.${gen}.`;
    for (const k of await this.#chunkKeys()) if (k.startsWith(prefix)) await this.#kv.purge(k);
  }
}

class MissingChunkError extends Error {
  override name = "MissingChunkError";
}

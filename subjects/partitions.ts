import { INGEST_PREFIX } from "./streams.ts";

/**
 * Partitions of INGEST (issue 14). Each channel belongs to one partition,
 * `partitionOf(channel, P)`, and is published to `ingest.<partition>.<channel>`;
 * route reads each partition through a durable of its own (consumers.ts), held
 * by one replica at a time, so a channel is always relayed by one process, in
 * stream order.
 *
 * Why the hash is computed here and not by a stream subject transform: a
 * transform's `{{partition(P, ...)}}` hashes `*` tokens only, and a channel has
 * a variable number of tokens (`ingest.>`), so the server cannot hash the whole
 * channel.
 *
 * P is stored once, in the INGEST stream's metadata (`jetmesh_partitions`), by
 * the migration (JETMESH_PARTITIONS); ingest and route read it from the stream
 * info at start, so the two can never disagree.
 */
export const PARTITIONS_METADATA_KEY = "jetmesh_partitions";
export const DEFAULT_PARTITIONS = 16;
export const MAX_PARTITIONS = 1024;

/**
 * FNV-1a, 32 bits, over the channel's characters (channels are ASCII, checked
 * at the edge), modulo P. Changing it moves channels between partitions, which
 * can reorder a channel whose events sit in two partitions at once: the table
 * in partitions.test.ts pins it.
 */
export function partitionOf(channel: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < channel.length; i++) {
    h ^= channel.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

/** `ingest.<partition>.<channel>`: where ingest publishes an event of `channel`. */
export function ingestSubject(channel: string, partitions: number): string {
  return `${INGEST_PREFIX}.${partitionOf(channel, partitions)}.${channel}`;
}

/** The subjects of one partition: the filter of its route durable. */
export function partitionFilter(partition: number): string {
  return `${INGEST_PREFIX}.${partition}.>`;
}

/** The channel of an INGEST subject `ingest.<partition>.<channel>`, or undefined. */
export function ingestChannelOf(subject: string): string | undefined {
  if (!subject.startsWith(`${INGEST_PREFIX}.`)) return undefined;
  const rest = subject.slice(INGEST_PREFIX.length + 1);
  const dot = rest.indexOf(".");
  if (dot <= 0 || !/^[0-9]+$/.test(rest.slice(0, dot))) return undefined;
  return rest.slice(dot + 1);
}

/**
 * P as the INGEST stream's metadata says, or undefined when the migration has not set it (a
 * stream from before partitions, or an invalid value).
 */
export function partitionsFromMetadata(
  metadata: Record<string, string> | undefined,
): number | undefined {
  const raw = metadata?.[PARTITIONS_METADATA_KEY];
  if (raw === undefined || !/^[0-9]+$/.test(raw)) return undefined;
  const p = Number(raw);
  return p >= 1 && p <= MAX_PARTITIONS ? p : undefined;
}

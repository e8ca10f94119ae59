/**
 * Presence: who is in a channel. Each membership is one entry of a KV bucket,
 * kept alive by the notify holding the connection and expiring with the
 * bucket's max age when nobody refreshes it (a crashed notify), so no stale
 * member outlives the TTL.
 */
export const PRESENCE_BUCKET = "jetmesh_presence";
/** Shown by `nats kv ls`. */
export const PRESENCE_BUCKET_DESCRIPTION =
  "jetmesh notify: who is in which channel, key <channel>.<member>.<session>, refreshed by a heartbeat";

/** A member id as clients name themselves: also one KV key token, so it needs no encoding. */
const memberRe = /^[A-Za-z0-9_-]{1,64}$/;

export function isMember(m: unknown): m is string {
  return typeof m === "string" && memberRe.test(m);
}

export interface PresenceEntry {
  channel: string;
  member: string;
  /** The connection holding the membership: one member may be present from several. */
  session: string;
}

/**
 * `<channel>.<member>.<session>`. Channel tokens, member and session all match
 * `[A-Za-z0-9_-]+`, so the last two tokens are always member and session and
 * the rest is the channel.
 */
export function presenceKey(e: PresenceEntry): string {
  return `${e.channel}.${e.member}.${e.session}`;
}

export function parsePresenceKey(key: string): PresenceEntry | undefined {
  const tokens = key.split(".");
  if (tokens.length < 3) return undefined;
  const session = tokens.pop()!;
  const member = tokens.pop()!;
  return { channel: tokens.join("."), member, session };
}

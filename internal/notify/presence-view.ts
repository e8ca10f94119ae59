import type { PresenceEntry } from "../../subjects/mod.ts";

/**
 * A member appearing in or disappearing from a channel; several sessions of one member count
 * once.
 */
export interface PresenceChange {
  type: "join" | "leave";
  channel: string;
  member: string;
}

/**
 * Who is in which channel, as far as this process has seen: channel → member
 * → session → when the session last refreshed its entry. Pure bookkeeping;
 * the KV watcher feeds it and the sweeper expires it.
 */
export class PresenceView {
  readonly #channels = new Map<string, Map<string, Map<string, number>>>();

  /**
   * Records an entry written (or refreshed) at `at`; a change when the member is new to the
   * channel.
   */
  put(e: PresenceEntry, at: number): PresenceChange | undefined {
    let members = this.#channels.get(e.channel);
    if (!members) this.#channels.set(e.channel, members = new Map());
    let sessions = members.get(e.member);
    const joined = sessions === undefined;
    if (!sessions) members.set(e.member, sessions = new Map());
    sessions.set(e.session, Math.max(at, sessions.get(e.session) ?? 0));
    return joined ? { type: "join", channel: e.channel, member: e.member } : undefined;
  }

  /** Forgets an entry; a change when it was the member's last session in the channel. */
  remove(e: PresenceEntry): PresenceChange | undefined {
    const members = this.#channels.get(e.channel);
    const sessions = members?.get(e.member);
    if (!members || !sessions?.delete(e.session) || sessions.size > 0) return undefined;
    members.delete(e.member);
    if (members.size === 0) this.#channels.delete(e.channel);
    return { type: "leave", channel: e.channel, member: e.member };
  }

  /**
   * Forgets every session last refreshed before `before`: their notify stopped refreshing them
   * (it crashed).
   */
  expire(before: number): PresenceChange[] {
    const changes: PresenceChange[] = [];
    for (const [channel, members] of this.#channels) {
      for (const [member, sessions] of members) {
        for (const [session, at] of sessions) {
          if (at >= before) continue;
          const change = this.remove({ channel, member, session });
          if (change) changes.push(change);
        }
      }
    }
    return changes;
  }

  /** Members of a channel, sorted. */
  members(channel: string): string[] {
    return [...(this.#channels.get(channel)?.keys() ?? [])].sort();
  }
}

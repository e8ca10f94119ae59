import type { Encoding } from "../codec/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { JoinFrame, LeaveFrame, PresenceQueryFrame } from "../protocol/mod.ts";
import type { WsConnection } from "../wsserver/mod.ts";
import type { Outbox } from "./outbox.ts";
import type { Presence } from "./presence.ts";

/** A connection's part in presence. */
interface PresenceState {
  /** This connection's presence session id, unique across notify processes. */
  session: string;
  /** Channels this connection joined, and as which member. */
  joined: Map<string, string>;
  /**
   * Channels whose presence changes this connection receives, with the function that stops
   * them.
   */
  watching: Map<string, () => void>;
}

export interface MemberState {
  /**
   * Made on the first presence frame: most connections never send one, and idle connections
   * should cost little.
   */
  presence?: PresenceState;
}

/**
 * `join`, `leave` and `presence` frames of subscriber connections, and the cleanup when one
 * closes.
 */
export function presenceFrames(presence: Presence, limit: number, log: Logger) {
  const tooMany = (what: string) =>
    new JetmeshError("limit_exceeded", `at most ${limit} ${what} per connection`);
  // Presence sessions are unique per connection across notify processes and restarts.
  const instance = crypto.randomUUID().slice(0, 8);
  let sessions = 0;
  const stateOf = (
    conn: WsConnection<MemberState>,
  ): PresenceState => (conn.data.presence ??= {
    session: `${instance}-${++sessions}`,
    joined: new Map(),
    watching: new Map(),
  });

  async function join(conn: WsConnection<MemberState>, f: JoinFrame): Promise<void> {
    const d = stateOf(conn);
    const current = d.joined.get(f.channel);
    if (current === undefined && d.joined.size >= limit) throw tooMany("joined channels");
    // Recorded before any await, so a close from here on leaves this membership.
    d.joined.set(f.channel, f.member);
    if (current !== undefined && current !== f.member) {
      await presence.leave({ channel: f.channel, member: current, session: d.session });
    }
    if (conn.isClosed()) return;
    await presence.join({ channel: f.channel, member: f.member, session: d.session });
  }

  async function leave(conn: WsConnection<MemberState>, f: LeaveFrame): Promise<void> {
    const d = stateOf(conn);
    const member = d.joined.get(f.channel);
    d.joined.delete(f.channel);
    if (member !== undefined) {
      await presence.leave({ channel: f.channel, member, session: d.session });
    }
  }

  function query(
    conn: WsConnection<MemberState>,
    outbox: Outbox,
    f: PresenceQueryFrame,
    enc: Encoding,
  ): void {
    const d = stateOf(conn);
    if (f.watch === true && !d.watching.has(f.channel)) {
      if (d.watching.size >= limit) throw tooMany("watched channels");
      d.watching.set(
        f.channel,
        presence.watch(
          f.channel,
          (c) =>
            outbox.send({
              op: c.type === "join" ? "member_joined" : "member_left",
              channel: c.channel,
              member: c.member,
            }, enc),
        ),
      );
    }
    if (f.watch === false) {
      d.watching.get(f.channel)?.();
      d.watching.delete(f.channel);
    }
    // Sent in the same turn as the watch starts, so no change can fall between the list and
    // the first change frame.
    outbox.send({ op: "presence", channel: f.channel, members: presence.members(f.channel) }, enc);
  }

  return {
    async handle(
      conn: WsConnection<MemberState>,
      outbox: Outbox,
      f: JoinFrame | LeaveFrame | PresenceQueryFrame,
      enc: Encoding,
    ): Promise<void> {
      switch (f.op) {
        case "join":
          await join(conn, f);
          outbox.send({ op: "joined", channel: f.channel, member: f.member }, enc);
          return;
        case "leave":
          await leave(conn, f);
          outbox.send({ op: "left", channel: f.channel }, enc);
          return;
        case "presence":
          return query(conn, outbox, f, enc);
      }
    },

    /** The connection is gone: stop its watches and take its members out of their channels. */
    closed(conn: WsConnection<MemberState>): void {
      const d = conn.data.presence;
      if (!d) return;
      for (const stop of d.watching.values()) stop();
      d.watching.clear();
      for (const [channel, member] of d.joined) {
        presence.leave({ channel, member, session: d.session }).catch((err) =>
          log.warn("presence leave failed", { err, channel })
        );
      }
      d.joined.clear();
    },
  };
}

import { anonymous, type Caller, isAuthenticated } from "../auth/mod.ts";
import { encodeFrame } from "../codec/mod.ts";
import {
  CLOSE_TOKEN_EXPIRED,
  type Expiry,
  type Guard,
  TOKEN_EXPIRED_REASON,
  watchExpiry,
} from "../edge/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { AuthedFrame } from "../protocol/mod.ts";
import type { UpgradeRequest, WsConnection } from "../wsserver/mod.ts";

/**
 * Close code for a connection that passed the upgrade's connection-limit
 * check but found the limit taken when it opened (concurrent upgrades of one
 * address or identity). The upgrade itself answers 429 in the ordinary case.
 */
const CLOSE_TOO_MANY_CONNECTIONS = 1013;

/**
 * The one caller of every connection with auth off: shared, since idle connections should cost
 * little.
 */
const OPEN = anonymous();

type Admitted = Pick<SessionState, "caller" | "address">;

/** Who a subscriber connection is, as fixed at the upgrade and renewed by `auth` frames. */
export interface SessionState {
  caller: Caller;
  /**
   * The client's address, as the guard reads it: the key of its connection count and, when
   * anonymous, of its rates.
   */
  address: string;
  /**
   * Whether this connection holds a place in the guard's connection counts (under
   * `caller.sub`).
   */
  counted: boolean;
  /** Closes the connection when the token expires; unset for anonymous callers. */
  expiry: Expiry | undefined;
}

/**
 * Admission of subscriber connections, their token's lifetime, and their place in the
 * per-address and per-identity counts.
 */
export function sessions(guard: Guard) {
  // With auth on, a connection without a token is only worth opening where a namespace lets
  // anonymous callers read.
  const anonymousWelcome = guard.policy.config.namespaces.some((ns) =>
    ns.access.subscribe.includes("anonymous") || ns.access.presence.includes("anonymous")
  );

  const arm = (conn: WsConnection<SessionState>) => {
    const caller = conn.data.caller;
    conn.data.expiry = isAuthenticated(caller)
      ? watchExpiry(caller, () => expired(conn))
      : undefined;
  };

  const expired = (conn: WsConnection<SessionState>) => {
    const message =
      'token expired; reconnect with a fresh token, or send {"op":"auth"} with one before it expires';
    conn.send(encodeFrame({ op: "error", code: "unauthorized", message }, "json"));
    conn.close(CLOSE_TOKEN_EXPIRED, TOKEN_EXPIRED_REASON);
  };

  return {
    /**
     * The upgrade's checks: Origin (403), token (401), connection limits (429).
     * Synchronous with auth off, where there is no token to verify.
     */
    admit(req: UpgradeRequest): Admitted | Promise<Admitted> {
      guard.checkOrigin(req);
      const address = guard.clientAddress(req);
      if (!guard.authOn) {
        guard.connections.check(address, undefined);
        return { caller: OPEN, address };
      }
      const admitted = (caller: Caller): Admitted => {
        if (!isAuthenticated(caller) && !anonymousWelcome) {
          throw new JetmeshError(
            "unauthorized",
            "a token is required: Authorization: Bearer <token>, or ?token=<token>",
          );
        }
        guard.connections.check(address, caller.sub);
        return { caller, address };
      };
      const known = guard.knownCaller(req);
      return known === undefined ? guard.caller(req).then(admitted) : admitted(known);
    },

    /**
     * Counts the connection, or closes it with 1013 (try again later) when concurrent
     * upgrades took the last place.
     */
    opened(conn: WsConnection<SessionState>): void {
      const d = conn.data;
      d.counted = guard.connections.open(d.address, d.caller.sub);
      if (d.counted) arm(conn);
      else conn.close(CLOSE_TOO_MANY_CONNECTIONS, "too many connections");
    },

    closed(conn: WsConnection<SessionState>): void {
      const d = conn.data;
      d.expiry?.cancel();
      d.expiry = undefined;
      if (d.counted) guard.connections.close(d.address, d.caller.sub);
      d.counted = false;
    },

    /**
     * An `auth` frame: the new token must be valid and, on an authenticated
     * connection, name the same sub. An anonymous connection becomes its
     * sub's, within that identity's connection limit.
     */
    async refresh(conn: WsConnection<SessionState>, token: string): Promise<AuthedFrame> {
      if (!guard.authOn) {
        throw new JetmeshError("bad_frame", "this service runs without tokens (JETMESH_AUTH=none)");
      }
      const d = conn.data;
      const next = await guard.refresh(d.caller, token);
      // With auth on, a refresh always yields an identity.
      if (!isAuthenticated(next)) throw new JetmeshError("unauthorized", "token refused");
      if (d.counted && next.sub !== d.caller.sub) {
        guard.connections.close(d.address, d.caller.sub);
        if (!guard.connections.open(d.address, next.sub)) {
          guard.connections.open(d.address, d.caller.sub);
          throw new JetmeshError(
            "limit_exceeded",
            `${next.sub} has as many connections open as it may`,
          );
        }
      }
      d.caller = next;
      d.expiry?.cancel();
      arm(conn);
      return { op: "authed", sub: next.sub, expiresAt: next.expiresAt };
    },
  };
}

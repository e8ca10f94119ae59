/**
 * Who is on the other end of a connection or request, as proven by a verified
 * token, and the channel patterns that token grants. Nothing in it comes from
 * what a client says about itself.
 */
export interface Identity {
  /** The token's `sub`: the publisher in event ids and the presence member. */
  readonly sub: string;
  /**
   * When the token stops being accepted (its `exp` plus the tolerated clock skew), in epoch
   * ms; a connection then closes.
   */
  readonly expiresAt: number;
  /** Channel patterns (NATS wildcards) the token may publish to. */
  readonly publish: readonly string[];
  /** Channel patterns the token may subscribe to, read history of and see presence of. */
  readonly subscribe: readonly string[];
  /** Every verified claim, for namespace rules that look at a claim. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * The caller of a service that runs with `JETMESH_AUTH=none`, or a client that
 * brought no token to a service whose namespaces grant something to anonymous
 * callers. `name` is what it calls itself (honoured only with auth off).
 */
export interface Anonymous {
  readonly sub: undefined;
  readonly name: string;
}

export type Caller = Identity | Anonymous;

const ANONYMOUS_NAME = "anon";

export function anonymous(name = ANONYMOUS_NAME): Anonymous {
  return { sub: undefined, name };
}

export function isAuthenticated(c: Caller): c is Identity {
  return c.sub !== undefined;
}

/** The name a caller's events carry as their publisher. */
export function publisherOf(c: Caller): string {
  return c.sub ?? c.name;
}

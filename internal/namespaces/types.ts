import type { RuleConfig } from "../processing/types.ts";

/**
 * Namespaces: the product's policy unit. One declarative file says, per channel
 * pattern, who may do what and within which limits. Later features (schemas,
 * processing rules, sinks) attach to a namespace rather than bring their own config.
 */

export type Action = "publish" | "subscribe" | "history" | "presence";
export const ACTIONS: readonly Action[] = ["publish", "subscribe", "history", "presence"];

/**
 * Who an action is open to, beyond what a caller's token grants:
 * - `nobody`: only token grants (the default);
 * - `anonymous`: anyone, with or without a token;
 * - `authenticated`: any caller with a valid token;
 * - `{ claim, equals }` / `{ claim, in }`: callers whose verified token has that claim value.
 * A list allows what any of its rules allows.
 */
export type AccessRule =
  | "nobody"
  | "anonymous"
  | "authenticated"
  | { claim: string; equals: string | number | boolean }
  | { claim: string; in: Array<string | number | boolean> };

/**
 * A token bucket: `perSecond` refill, up to `burst` at once (in a file, `burst` defaults to
 * twice `perSecond`).
 */
export interface Rate {
  perSecond: number;
  burst: number;
}

export interface ReplayLimits {
  /** How far back a cursor may point; older resumes are refused. */
  maxAgeMs: number;
  /** Pace of a catch-up, in events per second per subscription. */
  eventsPerSecond: number;
}

export interface Limits {
  /** Largest `data` of one event, in bytes as encoded on the bus. */
  maxPayloadBytes: number;
  /** Publishes per caller (its token's `sub`, or its address when anonymous). */
  publishRate: Rate;
  /** sub, unsub, join, leave, presence and auth frames per caller. */
  commandRate: Rate;
  replay: ReplayLimits;
}

export interface Namespace {
  name: string;
  /**
   * Channel pattern with NATS wildcards; a token `{sub}` stands for the
   * caller's own `sub`, so `user.{sub}.>` is each user's personal space.
   */
  channels: string;
  access: Record<Action, AccessRule[]>;
  limits: Limits;
  /**
   * Processing rules route applies to this namespace's events, in order (issue 15,
   * internal/processing). Kept as declared: parsing only checks that they compile.
   */
  rules?: RuleConfig[];
}

export interface ConnectionLimits {
  /** Open WebSocket connections per client address, per service process. */
  perAddress: number;
  /** Open WebSocket connections per token `sub`, per service process. */
  perIdentity: number;
}

export interface NamespacesConfig {
  /** First match wins, so list specific patterns before broad ones. */
  namespaces: Namespace[];
  /** Limits of channels no namespace matches. */
  defaults: Limits;
  connections: ConnectionLimits;
}

export const DEFAULT_LIMITS: Limits = {
  maxPayloadBytes: 64 * 1024,
  publishRate: { perSecond: 500, burst: 1000 },
  commandRate: { perSecond: 50, burst: 100 },
  replay: { maxAgeMs: 24 * 3_600_000, eventsPerSecond: 5000 },
};

export const DEFAULT_CONNECTIONS: ConnectionLimits = { perAddress: 100, perIdentity: 20 };

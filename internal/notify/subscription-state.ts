import type { Pace } from "./pace.ts";
import type { CatchUp } from "./subscription-catch-up.ts";
import { LivePhase } from "./subscription-live.ts";

/**
 * Where a subscription is in delivering its events. Each phase carries what
 * only it needs, so no combination of flags can say two things at once:
 * the hub membership, the catch-up's consumer and the events held for later
 * follow from the phase (see `inHub`).
 */
export type SubscriptionState =
  /** Made; `open` joins the hub and makes the catch-up's consumer. `pace` is for its catch-up. */
  | { readonly phase: "opening"; readonly pace: Pace | undefined }
  /** Phase 1: replaying from PostgreSQL what EVENTS no longer holds, holding the hub's offers. */
  | { readonly phase: "catchingUpFromStore"; readonly catchUp: CatchUp }
  /** Phase 2: reading its own consumer on EVENTS until it has caught up with the hub. */
  | { readonly phase: "catchingUpFromStream"; readonly catchUp: CatchUp }
  /** Phase 3: in the hub, its offers delivered as they come. */
  | LivePhase
  /** Out of the hub, its socket over the pause limit: catches up again once it drains. */
  | { readonly phase: "paused" }
  /** Delivery is over; `failure` is why, when it could not go on by itself. */
  | { readonly phase: "stopped"; readonly failure: Error | undefined };

export type Phase = SubscriptionState["phase"];

export type CatchingUp = Extract<
  SubscriptionState,
  { phase: "catchingUpFromStore" | "catchingUpFromStream" }
>;

export function isCatchingUp(s: SubscriptionState): s is CatchingUp {
  return s.phase === "catchingUpFromStore" || s.phase === "catchingUpFromStream";
}

/** Everything that changes a subscription's phase. */
export type Move =
  /** `open`: catches up from PostgreSQL first when the start is older than the stream. */
  | { readonly type: "open"; readonly catchUp: CatchUp; readonly fromStore: boolean }
  | { readonly type: "storeReplayed" }
  /** The consumer read everything up to the events held: those go first. */
  | { readonly type: "caughtUp" }
  /** A live write left the socket over the pause limit. */
  | { readonly type: "pause" }
  /** Joins the hub afresh and catches up from the last event delivered with a new consumer. */
  | { readonly type: "rejoin"; readonly catchUp: CatchUp }
  | { readonly type: "stop"; readonly failure?: Error };

/** A move's outcome, and what the subscription does about it, in this order. */
export interface Transition {
  readonly to: SubscriptionState;
  readonly leaveHub: boolean;
  readonly joinHub: boolean;
  /** The consumer of a catch-up that is over. */
  readonly close: CatchUp | undefined;
  /** Delivery ended: sleeps wake and the end handler is told. */
  readonly ended: boolean;
}

/** Which phases each move may start from; anything else is a bug and throws. */
const FROM: { readonly [T in Move["type"]]: readonly Phase[] } = {
  open: ["opening"],
  storeReplayed: ["catchingUpFromStore"],
  caughtUp: ["catchingUpFromStream"],
  pause: ["live"],
  rejoin: ["catchingUpFromStream", "live", "paused"],
  stop: ["opening", "catchingUpFromStore", "catchingUpFromStream", "live", "paused"],
};

/**
 * Whether a subscription in `s` is a hub member. `shared` is false when the
 * stream was recreated after the hub started: such a subscription never uses
 * the hub and reads its own consumer until stopped.
 */
export function inHub(s: SubscriptionState, shared: boolean): boolean {
  return s.phase === "live" || (shared && isCatchingUp(s));
}

/** The one place a subscription's phase changes. */
export function transition(from: SubscriptionState, move: Move, shared: boolean): Transition {
  if (!FROM[move.type].includes(from.phase)) {
    throw new Error(`a subscription cannot ${move.type} from ${from.phase}`);
  }
  if (!shared && (move.type === "rejoin" || move.type === "caughtUp")) {
    throw new Error(`a subscription outside the hub cannot ${move.type}`);
  }
  const to = next(from, move);
  const wasIn = inHub(from, shared);
  const isIn = inHub(to, shared);
  // A rejoin from live leaves and joins again, as a pause followed by its catch-up does.
  const rejoinFromLive = move.type === "rejoin" && from.phase === "live";
  const over = isCatchingUp(from) && (!isCatchingUp(to) || to.catchUp !== from.catchUp);
  return {
    to,
    leaveHub: wasIn && (!isIn || rejoinFromLive),
    joinHub: isIn && (!wasIn || rejoinFromLive),
    close: over ? from.catchUp : undefined,
    ended: to.phase === "stopped",
  };
}

function next(from: SubscriptionState, move: Move): SubscriptionState {
  switch (move.type) {
    case "open":
      return {
        phase: move.fromStore ? "catchingUpFromStore" : "catchingUpFromStream",
        catchUp: move.catchUp,
      };
    case "storeReplayed":
      return { phase: "catchingUpFromStream", catchUp: (from as CatchingUp).catchUp };
    case "caughtUp":
      return new LivePhase((from as CatchingUp).catchUp.held);
    case "pause":
      return { phase: "paused" };
    case "rejoin":
      return { phase: "catchingUpFromStream", catchUp: move.catchUp };
    case "stop":
      return { phase: "stopped", failure: move.failure };
  }
}

import t from "tap";
import { CatchUp, type CatchUpHost } from "./subscription-catch-up.ts";
import { LivePhase } from "./subscription-live.ts";
import {
  inHub,
  type Move,
  type Phase,
  type SubscriptionState,
  transition,
} from "./subscription-state.ts";

// The transitions only read a catch-up's held events; nothing here runs one.
const catchUp = (): CatchUp => new CatchUp({} as CatchUpHost, false, undefined);
const cu = catchUp();
const states: Record<Phase, SubscriptionState> = {
  opening: { phase: "opening", pace: undefined },
  catchingUpFromStore: { phase: "catchingUpFromStore", catchUp: cu },
  catchingUpFromStream: { phase: "catchingUpFromStream", catchUp: cu },
  live: new LivePhase(undefined),
  paused: { phase: "paused" },
  stopped: { phase: "stopped", failure: undefined },
};
const phases = Object.keys(states) as Phase[];
const fresh = catchUp();
const failure = new Error("boom");
const moves: Move[] = [
  { type: "open", catchUp: fresh, fromStore: true },
  { type: "open", catchUp: fresh, fromStore: false },
  { type: "storeReplayed" },
  { type: "caughtUp" },
  { type: "pause" },
  { type: "rejoin", catchUp: fresh },
  { type: "stop", failure },
];

/** Every legal move: from, move, to, and the hub calls and consumer closing it takes. */
const legal: Array<[Phase, number, Phase, string]> = [
  ["opening", 0, "catchingUpFromStore", "join"],
  ["opening", 1, "catchingUpFromStream", "join"],
  ["catchingUpFromStore", 2, "catchingUpFromStream", ""],
  ["catchingUpFromStream", 3, "live", "close"],
  ["live", 4, "paused", "leave"],
  ["catchingUpFromStream", 5, "catchingUpFromStream", "close"],
  ["live", 5, "catchingUpFromStream", "leave join"],
  ["paused", 5, "catchingUpFromStream", "join"],
  ["opening", 6, "stopped", "end"],
  ["catchingUpFromStore", 6, "stopped", "leave close end"],
  ["catchingUpFromStream", 6, "stopped", "leave close end"],
  ["live", 6, "stopped", "leave end"],
  ["paused", 6, "stopped", "end"],
];

t.test("every legal move gives its phase and says what to do about the hub and the consumer", async (t) => {
  for (const [from, i, to, effects] of legal) {
    const move = moves[i];
    const r = transition(states[from], move, true);
    t.equal(r.to.phase, to, `${move.type} from ${from}`);
    const did = [
      r.leaveHub && "leave",
      r.joinHub && "join",
      r.close && "close",
      r.ended && "end",
    ].filter(Boolean).join(" ");
    t.equal(did, effects, `${move.type} from ${from}: ${effects || "nothing"}`);
    if (r.close) t.equal(r.close, cu, "the consumer closed is the old catch-up's");
  }
});

t.test("any other move is refused, stopped being the end", async (t) => {
  let refused = 0;
  for (const from of phases) {
    for (const [i, move] of moves.entries()) {
      if (legal.some(([f, j]) => f === from && j === i)) continue;
      t.throws(
        () => transition(states[from], move, true),
        { message: `a subscription cannot ${move.type} from ${from}` },
      );
      refused++;
    }
  }
  t.equal(refused, phases.length * moves.length - legal.length);
});

t.test("a subscription outside the hub neither joins it nor goes live", async (t) => {
  const opened = transition(states.opening, moves[1], false);
  t.equal(opened.to.phase, "catchingUpFromStream");
  t.equal(opened.joinHub, false, "the stream was recreated after the hub started");
  t.throws(() => transition(states.catchingUpFromStream, moves[3], false), {
    message: "a subscription outside the hub cannot caughtUp",
  });
  t.throws(() => transition(states.catchingUpFromStream, moves[5], false), {
    message: "a subscription outside the hub cannot rejoin",
  });
  const stopped = transition(states.catchingUpFromStream, moves[6], false);
  t.equal(stopped.leaveHub, false, "it was never in");
  t.equal(stopped.close, cu);
});

t.test("the move's parts reach the new state", async (t) => {
  const stopped = transition(states.live, { type: "stop", failure }, true).to;
  t.same(stopped, { phase: "stopped", failure });
  const rejoined = transition(states.live, moves[5], true).to;
  t.equal(rejoined.phase === "catchingUpFromStream" && rejoined.catchUp, fresh);
  const replayed = transition(states.catchingUpFromStore, moves[2], true).to;
  t.equal(replayed.phase === "catchingUpFromStream" && replayed.catchUp, cu, "the same catch-up");
});

t.test("hub membership follows from the phase", async (t) => {
  const member = phases.filter((p) => inHub(states[p], true));
  t.same(member, ["catchingUpFromStore", "catchingUpFromStream", "live"]);
  t.same(phases.filter((p) => inHub(states[p], false)), ["live"]);
});

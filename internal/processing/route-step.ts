/**
 * What route publishes for one INGEST message once processing rules run (issue
 * 15): the namespaces' compiled rules (`ProcessingSet`) and the mapping from an
 * engine's outputs to EVENTS publishes (`planOutputs`). Pure: no NATS, no clock;
 * partition.ts keeps the engines and their order, route does the publishing.
 *
 * Outputs go straight to EVENTS (`events.<channel>`), never back to INGEST: a
 * derived event is not processed again, so rules cannot loop.
 */
import type { Envelope } from "../../subjects/envelope.ts";
import { type NamespacesConfig, Policy } from "../namespaces/mod.ts";
import { type CompiledRules, compileRules } from "./compile.ts";
import type { Output, OutputKind } from "./engine.ts";

/**
 * The `publisher` of every event the rules create (the envelope requires a valid
 * one). A client whose token's sub is `route` also publishes as `route`, but its
 * ids are `route:<client id>`, never `<namespace>/<rule>:...`: the two cannot
 * collide, and a reader tells them apart by the id.
 */
export const PROCESSING_PUBLISHER = "route";

/** One publish route must make for an input, in this order. */
export interface PlannedOutput {
  kind: OutputKind;
  /** The rule that produced it; absent for the input event itself. */
  rule?: string;
  channel: string;
  envelope: Envelope;
  /** Nats-Msg-Id: deterministic, so a replay after a crash publishes nothing twice. */
  msgID: string;
}

export class ProcessingConfigError extends Error {
  override name = "ProcessingConfigError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`processing rules do not compile: ${problems.join("; ")}`);
    this.problems = problems;
  }
}

/**
 * The compiled rules of every namespace that declares some, and which namespace a
 * channel belongs to (the first that matches, as for access and limits). Built
 * whole or not at all: on a reload that fails, route keeps the previous set.
 */
export class ProcessingSet {
  readonly #policy: Policy;
  readonly #rules: ReadonlyMap<string, CompiledRules>;

  private constructor(policy: Policy, rules: Map<string, CompiledRules>) {
    this.#policy = policy;
    this.#rules = rules;
  }

  /** Throws ProcessingConfigError listing every problem. */
  static fromConfig(config: NamespacesConfig): ProcessingSet {
    const rules = new Map<string, CompiledRules>();
    const problems: string[] = [];
    for (const ns of config.namespaces) {
      if (ns.rules === undefined || ns.rules.length === 0) continue;
      const c = compileRules(ns.name, ns.rules);
      if (c.ok) rules.set(ns.name, c.rules);
      else problems.push(...c.errors);
    }
    if (problems.length > 0) throw new ProcessingConfigError(problems);
    // Access is not decided here, only membership: `open` does not matter.
    return new ProcessingSet(new Policy(config, true), rules);
  }

  /** Names of the namespaces with rules: the checkpoints route loads per partition. */
  get namespaces(): string[] {
    return [...this.#rules.keys()];
  }

  get(namespace: string): CompiledRules | undefined {
    return this.#rules.get(namespace);
  }

  /** The rules that apply to an event of `channel`, if its namespace has any. */
  rulesFor(channel: string): CompiledRules | undefined {
    return this.#rules.get(this.#policy.resolve(channel).name);
  }

  /** Whether a namespace's rules are declared the same in both sets (its engine can stay). */
  sameRules(other: ProcessingSet, namespace: string): boolean {
    const a = this.#rules.get(namespace);
    const b = other.#rules.get(namespace);
    if (a === undefined || b === undefined) return a === b;
    return a.rules.length === b.rules.length &&
      a.rules.every((r, i) => r.fingerprint === b.rules[i].fingerprint);
  }
}

/**
 * The engine's outputs as EVENTS publishes. The input event keeps its envelope
 * (id, ts, publisher) with the data the rules left; a created event gets the
 * output's id as both its id and msgID, the input's `ts` (so it is the same on a
 * replay) and PROCESSING_PUBLISHER. `routedAt` is the caller's clock, as for
 * every routed event; it is the one field a replay may change.
 */
export function planOutputs(input: Envelope, outputs: Output[], routedAt: number): PlannedOutput[] {
  return outputs.map((o) => {
    if (o.kind === "event") {
      return {
        kind: o.kind,
        channel: o.channel,
        envelope: { ...input, data: o.data, routedAt },
        msgID: input.id,
      };
    }
    return {
      kind: o.kind,
      rule: o.rule,
      channel: o.channel,
      envelope: {
        v: 1,
        id: o.id,
        channel: o.channel,
        ts: input.ts,
        publisher: PROCESSING_PUBLISHER,
        data: o.data,
        routedAt,
      },
      msgID: o.id,
    };
  });
}

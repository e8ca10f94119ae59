import { patternCovers, patternsOverlap } from "../../subjects/mod.ts";
import { type Caller, isAuthenticated } from "../auth/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type {
  AccessRule,
  Action,
  ConnectionLimits,
  Limits,
  Namespace,
  NamespacesConfig,
} from "./types.ts";

/** A namespace or the defaults, as a caller's channel resolves to. */
export interface ResolvedNamespace {
  /** `(default)` for channels no namespace matches. */
  name: string;
  limits: Limits;
}

const SUB = "{sub}";

function allows(rule: AccessRule, caller: Caller): boolean {
  if (rule === "anonymous") return true;
  if (rule === "nobody" || !isAuthenticated(caller)) return false;
  if (rule === "authenticated") return true;
  const value = caller.claims[rule.claim];
  return "equals" in rule ? value === rule.equals : rule.in.some((v) => v === value);
}

/** The pattern with `{sub}` replaced: the caller's own, or any token when resolving limits. */
function instantiate(ns: Namespace, sub: string | undefined): string | undefined {
  if (!ns.channels.includes(SUB)) return ns.channels;
  if (sub === undefined) return undefined;
  return ns.channels.split(".").map((t) => t === SUB ? sub : t).join(".");
}

/**
 * Decides who may do what on which channels, and which limits apply there.
 * A caller may act on a channel or pattern when a grant of its token covers it
 * or a namespace whose rule admits the caller covers it whole: a pattern that
 * spans several namespaces needs a grant as wide as itself. A channel belongs
 * to the first namespace that matches it, for access as for limits, so a
 * specific namespace listed before a broad one is not opened by the broad one.
 */
export class Policy {
  readonly config: NamespacesConfig;
  /** With auth off (`JETMESH_AUTH=none`) every action is allowed; the limits still hold. */
  readonly open: boolean;
  readonly #limitPatterns: string[];

  constructor(config: NamespacesConfig, open: boolean) {
    this.config = config;
    this.open = open;
    this.#limitPatterns = config.namespaces.map((n) =>
      n.channels.split(".").map((t) => t === SUB ? "*" : t).join(".")
    );
  }

  get connections(): ConnectionLimits {
    return this.config.connections;
  }

  /** The first namespace whose pattern covers the channel or pattern; the defaults otherwise. */
  resolve(channel: string): ResolvedNamespace {
    const i = this.#limitPatterns.findIndex((p) => patternCovers(p, channel));
    return i < 0 ? { name: "(default)", limits: this.config.defaults } : this.config.namespaces[i];
  }

  /**
   * Whether a caller without a token may do `action` on some channel; a service refuses it up
   * front otherwise.
   */
  admitsAnonymous(action: Action): boolean {
    return this.open ||
      this.config.namespaces.some((ns) => ns.access[action].includes("anonymous"));
  }

  may(caller: Caller, action: Action, channel: string): boolean {
    if (this.open) return true;
    if (isAuthenticated(caller)) {
      const grants = action === "publish" ? caller.publish : caller.subscribe;
      if (grants.some((g) => patternCovers(g, channel))) return true;
    }
    for (const [i, ns] of this.config.namespaces.entries()) {
      if (!patternsOverlap(this.#limitPatterns[i], channel)) continue;
      const admitted = ns.access[action].some((r) => allows(r, caller));
      const pattern = instantiate(ns, caller.sub);
      if (admitted && pattern !== undefined && patternCovers(pattern, channel)) return true;
      // Some of the channel's events may belong to this namespace: it must admit
      // the caller to all of its own channels, or the broader namespaces after it
      // would open what it keeps closed. ({sub} spaces admit only the caller's own.)
      if (!admitted || pattern !== this.#limitPatterns[i]) return false;
    }
    return false;
  }

  /**
   * Throws `unauthorized` (a token would be needed) or `forbidden` (this token does not allow
   * it).
   */
  authorize(caller: Caller, action: Action, channel: string): void {
    if (this.may(caller, action, channel)) return;
    const what = action === "publish"
      ? "publish to"
      : action === "subscribe"
      ? "subscribe to"
      : `read the ${action} of`;
    if (!isAuthenticated(caller)) {
      throw new JetmeshError("unauthorized", `a token is required to ${what} ${channel}`);
    }
    throw new JetmeshError("forbidden", `your token does not allow you to ${what} ${channel}`);
  }
}

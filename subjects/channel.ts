/**
 * Channel names. A channel is what applications publish to and subscribe to;
 * on the bus it becomes a subject under the stream's prefix, so the syntax is
 * the NATS token syntax narrowed to characters that are safe in URLs and SQL.
 */
const MAX_CHANNEL_LENGTH = 200;
const MAX_CHANNEL_TOKENS = 16;

const tokenRe = /^[A-Za-z0-9_-]+$/;

export type ChannelCheck = { ok: true } | { ok: false; reason: string };

function checkTokens(name: unknown, allowWildcards: boolean): ChannelCheck {
  if (typeof name !== "string") return { ok: false, reason: "channel must be a string" };
  if (name.length === 0 || name.length > MAX_CHANNEL_LENGTH) {
    return { ok: false, reason: `channel must be 1 to ${MAX_CHANNEL_LENGTH} characters` };
  }
  const tokens = name.split(".");
  if (tokens.length > MAX_CHANNEL_TOKENS) {
    return {
      ok: false,
      reason: `channel must have at most ${MAX_CHANNEL_TOKENS} dot-separated tokens`,
    };
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (tokenRe.test(t)) continue;
    if (allowWildcards && (t === "*" || (t === ">" && i === tokens.length - 1))) continue;
    if (t === "*" || t === ">") {
      return {
        ok: false,
        reason: allowWildcards
          ? "'>' may only be the last token"
          : "wildcards are not allowed when publishing",
      };
    }
    return { ok: false, reason: `channel token ${JSON.stringify(t)} must match [A-Za-z0-9_-]+` };
  }
  return { ok: true };
}

/** A concrete channel, as used when publishing. */
export function checkChannel(name: unknown): ChannelCheck {
  return checkTokens(name, false);
}

/** A channel or a pattern with `*` (one token) and a trailing `>` (one or more tokens). */
export function checkChannelPattern(name: unknown): ChannelCheck {
  return checkTokens(name, true);
}

export function isWildcard(pattern: string): boolean {
  return pattern.split(".").some((t) => t === "*" || t === ">");
}

const TOKEN_CLASS = "[A-Za-z0-9_-]+";

/**
 * The channels a pattern matches, as an anchored regular expression in the
 * syntax PostgreSQL (`~`) and JavaScript share, with NATS subject semantics:
 * `*` is one token, a final `>` one or more. Callers check the pattern first;
 * tokens then hold only `[A-Za-z0-9_-]`, none of which is special in a regex,
 * so nothing from the client reaches the expression unescaped.
 */
export function channelPatternRegex(pattern: string): string {
  const parts = pattern.split(".").map((t) => {
    if (t === "*") return TOKEN_CLASS;
    if (t === ">") return `${TOKEN_CLASS}(\\.${TOKEN_CLASS})*`;
    if (!tokenRe.test(t)) {
      throw new Error(`channel pattern token ${JSON.stringify(t)} is not valid`);
    }
    return t;
  });
  return `^${parts.join("\\.")}$`;
}

/**
 * Whether every channel `pattern` matches is also matched by `grant` (both
 * checked patterns; a concrete channel is a pattern without wildcards). So
 * `chat.*` covers `chat.room1` and `chat.*` but never `chat.>` or `>`.
 */
export function patternCovers(grant: string, pattern: string): boolean {
  const g = grant.split(".");
  const p = pattern.split(".");
  for (let i = 0; i < g.length; i++) {
    if (g[i] === ">") return i < p.length;
    if (i >= p.length) return false;
    if (g[i] === "*") {
      if (p[i] === ">") return false;
      continue;
    }
    if (g[i] !== p[i]) return false;
  }
  return g.length === p.length;
}

/**
 * Whether some channel matches both patterns (so a subscription to one can see events of the
 * other).
 */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split(".");
  const y = b.split(".");
  for (let i = 0;; i++) {
    if (i === x.length || i === y.length) return x.length === y.length;
    if (x[i] === ">" || y[i] === ">") return true;
    if (x[i] !== y[i] && x[i] !== "*" && y[i] !== "*") return false;
  }
}

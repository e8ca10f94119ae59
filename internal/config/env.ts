import { JetmeshError } from "../errors/mod.ts";

export type Env = Record<string, string | undefined>;

const durationUnits: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses "500ms", "30s", "2m", "24h", "7d" (or a bare number of ms) into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * durationUnits[m[2] ?? "ms"]);
}

/**
 * Reads typed settings from environment variables. Every problem is collected
 * so that a bad start-up reports all wrong variables at once, then `done()`
 * throws one `bad_config` error naming each of them.
 */
export class EnvReader {
  readonly #env: Env;
  readonly #problems: string[] = [];

  constructor(env: Env) {
    this.#env = env;
  }

  #raw(name: string): string | undefined {
    const v = this.#env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  }

  #bad(name: string, value: string, expected: string): void {
    this.#problems.push(`${name}=${JSON.stringify(value)}: expected ${expected}`);
  }

  string(name: string, fallback: string): string {
    return this.#raw(name) ?? fallback;
  }

  optional(name: string): string | undefined {
    return this.#raw(name);
  }

  int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw) || n < min || n > max) {
      this.#bad(name, raw, `an integer from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  /** A decimal number such as a ratio ("0.25"). */
  number(name: string, fallback: number, min = -Infinity, max = Infinity): number {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!/^-?\d+(\.\d+)?$/.test(raw) || n < min || n > max) {
      this.#bad(name, raw, `a number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  durationMs(name: string, fallback: string, minMs = 1): number {
    const raw = this.#raw(name) ?? fallback;
    const ms = parseDuration(raw);
    if (ms === undefined || ms < minMs) {
      this.#bad(name, raw, `a duration of at least ${minMs}ms such as 500ms, 30s, 2m, 24h or 7d`);
      return parseDuration(fallback) ?? minMs;
    }
    return ms;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.#bad(name, raw, `one of ${allowed.join(", ")}`);
      return fallback;
    }
    return raw as T;
  }

  list(name: string, fallback: string[]): string[] {
    const raw = this.#raw(name);
    if (raw === undefined) return fallback;
    return raw.split(",").map((s) => s.trim()).filter((s) => s !== "");
  }

  /** Checks a value already read; records a problem when `ok` is false. */
  check(name: string, ok: boolean, expected: string): void {
    if (!ok) this.#bad(name, this.#raw(name) ?? "", expected);
  }

  done(): void {
    if (this.#problems.length > 0) {
      throw new JetmeshError("bad_config", `invalid configuration: ${this.#problems.join("; ")}`);
    }
  }
}

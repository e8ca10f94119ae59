import { JetmeshClientError } from "./types.ts";

/**
 * Never refresh sooner than this after receiving a token, whatever its lifetime: no tight loops.
 */
const MIN_REFRESH_MS = 1000;
/** Ask for a new token this long before expiry, when the lifetime leaves room for it. */
const LEAD_MS = 30_000;

/** `exp` and `iat` (seconds) of a JWT, read without verifying it: only the servers can verify. */
export function readClaims(token: string): { exp?: number; iat?: number } {
  const part = token.split(".")[1];
  if (part === undefined) return {};
  try {
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(
      Math.ceil(part.length / 4) * 4,
      "=",
    );
    const json = JSON.parse(atob(b64)) as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    return { exp: num(json.exp), iat: num(json.iat) };
  } catch {
    return {};
  }
}

/**
 * How long after receiving `token` (at `now`, the client's clock) to fetch the
 * next one: at 80 % of what is left or 30 s before expiry, whichever is
 * earlier, but never before half of it. What is left is `exp − now`, bounded
 * by the token's lifetime `exp − iat`: a client clock that runs behind cannot
 * make a token last longer than it was issued for, and one that runs ahead
 * (`exp` seemingly past) falls back on the lifetime, since a token just
 * handed over is fresh. Undefined for a token without `exp` (never refreshed).
 */
export function refreshDelay(token: string, now: number): number | undefined {
  const { exp, iat } = readClaims(token);
  if (exp === undefined) return undefined;
  const lifetime = iat === undefined || exp <= iat ? undefined : (exp - iat) * 1000;
  let left = exp * 1000 - now;
  if (lifetime !== undefined && (left > lifetime || left <= 0)) left = lifetime;
  if (left <= 0) return MIN_REFRESH_MS;
  const due = Math.min(left * 0.8, left - LEAD_MS);
  return Math.max(MIN_REFRESH_MS, due, left / 2);
}

/** Where a connection's tokens come from: a fixed one, or the application's getToken. */
export interface TokenOptions {
  /** A token (JWT) for the service; without getToken it is used until it expires. */
  token?: string;
  /**
   * Called for a new token before the current one expires (it is then sent on
   * the live connection), on a reconnect when the current one is due, and when
   * the server closed the connection because it expired.
   */
  getToken?: () => Promise<string>;
}

/** One connection's current token and when it is due for renewal. */
export class TokenSource {
  readonly #get: (() => Promise<string>) | undefined;
  #token: string | undefined;
  #dueAt = Infinity;

  constructor(o: TokenOptions) {
    this.#get = o.getToken;
    if (o.token !== undefined) this.#hold(o.token);
  }

  get renewable(): boolean {
    return this.#get !== undefined;
  }

  /**
   * Ms until the current token should be replaced; undefined when it never needs to be (or
   * cannot be).
   */
  get dueInMs(): number | undefined {
    if (!this.#get || this.#dueAt === Infinity) return undefined;
    return Math.max(0, this.#dueAt - Date.now());
  }

  /**
   * The token to connect with: the current one, or a new one from getToken
   * when there is none yet, it is due, or `force` (the server refused it).
   */
  async forConnect(force = false): Promise<string | undefined> {
    if (this.#get && (force || this.#token === undefined || Date.now() >= this.#dueAt)) {
      return await this.renew();
    }
    return this.#token;
  }

  /** A new token from getToken; a typed `unauthorized` error when it fails. */
  async renew(): Promise<string> {
    if (!this.#get) {
      throw new JetmeshClientError("unauthorized", "no getToken to renew the token with");
    }
    let token: unknown;
    try {
      token = await this.#get();
    } catch (err) {
      throw new JetmeshClientError(
        "unauthorized",
        `getToken failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (typeof token !== "string" || token === "") {
      throw new JetmeshClientError("unauthorized", "getToken did not return a token");
    }
    this.#hold(token);
    return token;
  }

  #hold(token: string): void {
    this.#token = token;
    const delay = refreshDelay(token, Date.now());
    this.#dueAt = delay === undefined ? Infinity : Date.now() + delay;
  }
}

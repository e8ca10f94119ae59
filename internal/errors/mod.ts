/**
 * Typed errors. Every error that crosses a service edge carries a stable
 * `code` from this list, so clients can branch on it and logs can be grouped.
 */
export type ErrorCode =
  | "bad_frame"
  | "bad_channel"
  | "bad_id"
  | "bad_request"
  | "unknown_op"
  | "too_large"
  /** No token, or one that failed verification or expired. */
  | "unauthorized"
  /** A valid token that does not allow this action on this channel. */
  | "forbidden"
  /** Over a rate limit; `retryAfterMs` says when the next attempt can pass. */
  | "rate_limited"
  | "overloaded"
  | "unavailable"
  | "not_found"
  | "limit_exceeded"
  | "slow_consumer"
  | "rejected"
  | "bad_config"
  /**
   * A stream or KV bucket a service needs does not exist: the migration (cmd/migrate) has not
   * run.
   */
  | "not_migrated"
  | "internal";

export class JetmeshError extends Error {
  readonly code: ErrorCode;
  /** Set on `rate_limited`: how long until a retry can succeed. */
  readonly retryAfterMs?: number;
  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.name = "JetmeshError";
    this.code = code;
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** HTTP status for an error code; anything not listed is a server fault. */
export function httpStatus(code: ErrorCode): number {
  switch (code) {
    case "bad_frame":
    case "bad_channel":
    case "bad_id":
    case "bad_request":
    case "unknown_op":
    case "rejected":
      return 400;
    case "unauthorized":
      return 401;
    case "forbidden":
      return 403;
    case "not_found":
      return 404;
    case "too_large":
      return 413;
    case "overloaded":
    case "limit_exceeded":
    case "rate_limited":
      return 429;
    case "unavailable":
      return 503;
    default:
      return 500;
  }
}

export function errorCode(err: unknown): ErrorCode {
  return err instanceof JetmeshError ? err.code : "internal";
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function retryAfterMs(err: unknown): number | undefined {
  return err instanceof JetmeshError ? err.retryAfterMs : undefined;
}

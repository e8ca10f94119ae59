import {
  checkChannel,
  checkChannelPattern,
  isClientId,
  isMember,
  MAX_CLIENT_ID_LENGTH,
  parseCursor,
} from "../../subjects/mod.ts";
import { type ErrorCode, JetmeshError } from "../errors/mod.ts";
import type { AuthFrame, ErrorFrame, PubFrame, SubscriberFrame } from "./frames.ts";

type Obj = Record<string, unknown>;

function asObject(v: unknown): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new JetmeshError("bad_frame", "frame must be an object");
  }
  return v as Obj;
}

function requireChannel(f: Obj, pattern: boolean): string {
  if (f.channel === undefined) throw new JetmeshError("bad_frame", "missing field: channel");
  const check = pattern ? checkChannelPattern(f.channel) : checkChannel(f.channel);
  if (!check.ok) throw new JetmeshError("bad_channel", check.reason);
  return f.channel as string;
}

/** Longest token accepted in a frame or on an upgrade; real JWTs are well under it. */
const MAX_TOKEN_LENGTH = 8192;

function parseAuth(f: Obj): AuthFrame {
  if (typeof f.token !== "string" || f.token === "" || f.token.length > MAX_TOKEN_LENGTH) {
    throw new JetmeshError(
      "bad_frame",
      `token must be a non-empty string of at most ${MAX_TOKEN_LENGTH} characters`,
    );
  }
  return { op: "auth", token: f.token };
}

/** A producer's frame: a publish, or a token refresh. */
export function parsePublisherFrame(value: unknown): PubFrame | AuthFrame {
  const f = asObject(value);
  return f.op === "auth" ? parseAuth(f) : parsePub(f);
}

/**
 * Validates a publish, from a WebSocket frame or one item of an HTTP body (where `op` may be
 * left out).
 */
export function parsePub(value: unknown): PubFrame {
  const f = asObject(value);
  if (f.op !== undefined && f.op !== "pub") {
    throw new JetmeshError("unknown_op", `op must be "pub" here`);
  }
  if (f.id !== undefined && !isClientId(f.id)) {
    throw new JetmeshError(
      "bad_id",
      `id must be 1 to ${MAX_CLIENT_ID_LENGTH} visible ASCII characters`,
    );
  }
  const channel = requireChannel(f, false);
  if (!("data" in f) || f.data === undefined) {
    throw new JetmeshError("bad_frame", "missing field: data");
  }
  if (f.traceparent !== undefined && typeof f.traceparent !== "string") {
    throw new JetmeshError("bad_frame", "traceparent must be a string");
  }
  return {
    op: "pub",
    id: f.id as string | undefined,
    channel,
    data: f.data,
    traceparent: f.traceparent as string | undefined,
  };
}

export function parseSubscriberFrame(value: unknown): SubscriberFrame {
  const f = asObject(value);
  switch (f.op) {
    case "sub": {
      const channel = requireChannel(f, true);
      if (f.after !== undefined && parseCursor(f.after) === undefined) {
        throw new JetmeshError("bad_frame", 'after must be a cursor such as "1764000000000-42"');
      }
      return { op: "sub", channel, after: f.after as string | undefined };
    }
    case "unsub":
      return { op: "unsub", channel: requireChannel(f, true) };
    case "join": {
      const channel = requireChannel(f, false);
      if (!isMember(f.member)) {
        throw new JetmeshError("bad_frame", "member must match [A-Za-z0-9_-]{1,64}");
      }
      return { op: "join", channel, member: f.member };
    }
    case "leave":
      return { op: "leave", channel: requireChannel(f, false) };
    case "presence": {
      const channel = requireChannel(f, false);
      if (f.watch !== undefined && typeof f.watch !== "boolean") {
        throw new JetmeshError("bad_frame", "watch must be a boolean");
      }
      return f.watch === undefined
        ? { op: "presence", channel }
        : { op: "presence", channel, watch: f.watch };
    }
    case "auth":
      return parseAuth(f);
    case undefined:
      throw new JetmeshError("bad_frame", "missing field: op");
    default: {
      // Only a string is quoted: a msgpack 64-bit integer decodes to a BigInt, which
      // JSON.stringify throws on.
      const op = typeof f.op === "string" ? JSON.stringify(f.op) : `of type ${typeof f.op}`;
      throw new JetmeshError(
        "unknown_op",
        `unknown op ${op}; expected sub, unsub, join, leave, presence or auth`,
      );
    }
  }
}

/**
 * The id to echo in an error: the frame's client id, or else its channel, when either is a plain
 * string.
 */
export function idOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const f = value as Obj;
  if (typeof f.id === "string" && f.id.length <= MAX_CLIENT_ID_LENGTH) return f.id;
  if (typeof f.channel === "string" && f.channel.length <= 256) return f.channel;
  return undefined;
}

export function errorFrame(
  code: ErrorCode,
  message: string,
  id?: string,
  retryAfterMs?: number,
): ErrorFrame {
  const frame: ErrorFrame = id === undefined
    ? { op: "error", code, message }
    : { op: "error", id, code, message };
  if (retryAfterMs !== undefined) frame.retryAfterMs = retryAfterMs;
  return frame;
}

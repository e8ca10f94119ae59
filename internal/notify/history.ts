import { checkChannel, formatCursor, parseCursor } from "../../subjects/mod.ts";
import { contentTypeOf, encodeFrame, type Encoding } from "../codec/mod.ts";
import type { Guard } from "../edge/mod.ts";
import { errorCode, errorMessage, httpStatus, JetmeshError, retryAfterMs } from "../errors/mod.ts";
import { errorResponse, jsonResponse } from "../httpapi/mod.ts";
import { errorFrame } from "../protocol/mod.ts";
import type { Store } from "../store/mod.ts";
import type { HttpHandler, HttpResponse } from "../wsserver/mod.ts";

const DEFAULT_HISTORY_LIMIT = 100;

/**
 * GET /v1/history?channel=&after=&limit= — stored events of one channel in
 * cursor order, from PostgreSQL. `next` is the cursor to pass as `after` for
 * the following page (the request's own `after` when the page is empty).
 *
 * The token comes as `Authorization: Bearer` or, for clients that cannot set
 * headers, `?token=` (which proxies may log: prefer the header). No or a bad
 * token is 401, one without the channel's history permission 403. Each
 * request is one command of the channel's namespace (429 with Retry-After
 * beyond its rate); pages are bounded by `limit`, so a cursor of any age is
 * served.
 */
export function historyHandler(store: Store, maxLimit: number, guard: Guard): HttpHandler {
  return async (req) => {
    try {
      const channel = req.query.get("channel") ?? "";
      const check = checkChannel(channel);
      if (!check.ok) throw new JetmeshError("bad_channel", check.reason);
      const caller = await guard.caller(req);
      guard.limit(caller, guard.clientAddress(req), "command", guard.policy.resolve(channel));
      guard.authorize(caller, "history", channel);
      const afterText = req.query.get("after");
      const after = afterText === null || afterText === "" ? undefined : parseCursor(afterText);
      if (afterText && after === undefined) {
        throw new JetmeshError("bad_request", 'after must be a cursor such as "1764000000000-42"');
      }
      const limitText = req.query.get("limit");
      const limit = limitText === null || limitText === ""
        ? DEFAULT_HISTORY_LIMIT
        : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
        throw new JetmeshError("bad_request", `limit must be an integer from 1 to ${maxLimit}`);
      }
      const rows = await store.history(channel, after, limit);
      const events = rows.map((r) => ({
        id: r.eventId,
        cursor: formatCursor(r.cursor),
        ts: r.receivedAt,
        data: r.data,
      }));
      const next = events.length > 0 ? events[events.length - 1].cursor : (afterText || null);
      const enc: Encoding = (req.header("accept") ?? "").includes("msgpack") ? "msgpack" : "json";
      return {
        status: 200,
        headers: { "content-type": contentTypeOf(enc) },
        body: encodeFrame({ channel, events, next }, enc),
      };
    } catch (err) {
      return refusal(err);
    }
  };
}

/**
 * A rate-limited answer says when to retry: in Retry-After (whole seconds) and in the body's
 * retryAfterMs.
 */
function refusal(err: unknown): HttpResponse {
  const ms = retryAfterMs(err);
  if (ms === undefined) return errorResponse(err);
  const res = jsonResponse(
    httpStatus(errorCode(err)),
    errorFrame(errorCode(err), errorMessage(err), undefined, ms),
  );
  return { ...res, headers: { ...res.headers, "retry-after": String(Math.ceil(ms / 1000)) } };
}

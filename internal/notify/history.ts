import { checkChannel, formatCursor, parseCursor } from "../../subjects/mod.ts";
import { contentTypeOf, encodeFrame, type Encoding } from "../codec/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import { errorResponse } from "../httpapi/mod.ts";
import type { Store } from "../store/mod.ts";
import type { HttpHandler } from "../wsserver/mod.ts";

export const DEFAULT_HISTORY_LIMIT = 100;

/**
 * GET /v1/history?channel=&after=&limit= — stored events of one channel in
 * cursor order, from PostgreSQL. `next` is the cursor to pass as `after` for
 * the following page (the request's own `after` when the page is empty).
 */
export function historyHandler(store: Store, maxLimit: number): HttpHandler {
  return async (req) => {
    try {
      const channel = req.query.get("channel") ?? "";
      const check = checkChannel(channel);
      if (!check.ok) throw new JetmeshError("bad_channel", check.reason);
      const afterText = req.query.get("after");
      const after = afterText === null || afterText === "" ? undefined : parseCursor(afterText);
      if (afterText && after === undefined) throw new JetmeshError("bad_request", "after must be a cursor such as \"1764000000000-42\"");
      const limitText = req.query.get("limit");
      const limit = limitText === null || limitText === "" ? DEFAULT_HISTORY_LIMIT : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
        throw new JetmeshError("bad_request", `limit must be an integer from 1 to ${maxLimit}`);
      }
      const rows = await store.history(channel, after, limit);
      const events = rows.map((r) => ({ id: r.eventId, cursor: formatCursor(r.cursor), ts: r.receivedAt, data: r.data }));
      const next = events.length > 0 ? events[events.length - 1].cursor : (afterText || null);
      const enc: Encoding = (req.header("accept") ?? "").includes("msgpack") ? "msgpack" : "json";
      return { status: 200, headers: { "content-type": contentTypeOf(enc) }, body: encodeFrame({ channel, events, next }, enc) };
    } catch (err) {
      return errorResponse(err);
    }
  };
}

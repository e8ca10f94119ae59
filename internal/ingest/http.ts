import {
  contentTypeOf,
  decodeFrame,
  encodeFrame,
  type Encoding,
  encodingOfContentType,
} from "../codec/mod.ts";
import { errorCode, errorMessage, httpStatus, JetmeshError, retryAfterMs } from "../errors/mod.ts";
import { errorResponse, retryAfterHeader } from "../httpapi/mod.ts";
import type { Inflight } from "../lifecycle/mod.ts";
import { KeyedSerial } from "../ordering/mod.ts";
import {
  type AckFrame,
  type ErrorFrame,
  errorFrame,
  parsePub,
  type PubFrame,
} from "../protocol/mod.ts";
import type { HttpHandler, HttpRequest, HttpResponse } from "../wsserver/mod.ts";
import { publishingCaller } from "./caller.ts";
import type { IngestConfig } from "./config.ts";
import { admit, type PublishDeps, publishEvent } from "./publish.ts";

function encoded(
  status: number,
  body: unknown,
  enc: Encoding,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    status,
    headers: { "content-type": contentTypeOf(enc), ...headers },
    body: encodeFrame(body, enc),
  };
}

function parseBody(
  req: HttpRequest,
  cfg: IngestConfig,
): { enc: Encoding; items: PubFrame[]; batch: boolean } {
  const enc = encodingOfContentType(req.header("content-type"));
  if (enc === undefined) {
    throw new JetmeshError(
      "bad_request",
      "Content-Type must be application/json or application/msgpack",
    );
  }
  const value = decodeFrame(req.body, enc);
  const batch = Array.isArray(value);
  const raw = batch ? value : [value];
  if (raw.length === 0) throw new JetmeshError("bad_request", "empty batch");
  if (raw.length > cfg.maxBatch) {
    throw new JetmeshError("too_large", `at most ${cfg.maxBatch} events per request`);
  }
  // All or nothing on validation: a batch with one bad event publishes none, and the error
  // names it.
  const items = raw.map((v, i) => {
    try {
      return parsePub(v);
    } catch (err) {
      throw new JetmeshError(
        errorCode(err),
        batch ? `event ${i}: ${errorMessage(err)}` : errorMessage(err),
      );
    }
  });
  return { enc, items, batch };
}

/**
 * Status of a whole answer: its first error's; with `Retry-After` when that is a rate limit, for
 * the longest wait asked of any event.
 */
function outcome(
  results: Array<AckFrame | ErrorFrame>,
): { status: number; headers: Record<string, string> } {
  const firstError = results.find((r): r is ErrorFrame => r.op === "error");
  if (firstError === undefined) return { status: 200, headers: {} };
  const waits = results.map((r) => (r.op === "error" ? r.retryAfterMs : undefined)).filter((ms) =>
    ms !== undefined
  );
  const status = httpStatus(firstError.code);
  return {
    status,
    headers: status === 429 && waits.length > 0 ? retryAfterHeader(Math.max(...waits)) : {},
  };
}

/**
 * POST /v1/publish: one event or an array, JSON or msgpack (the Content-Type
 * must say which). Answers like the WebSocket: an ack (or error) per event, in
 * the request's encoding; each event is authorized and rate-limited on its own.
 * Events of one channel in a batch are published one after another, so a
 * retried publish cannot overtake an earlier one.
 */
export function publishHandler(
  cfg: IngestConfig,
  pub: PublishDeps,
  inflight: Inflight,
): HttpHandler {
  return async (req) => {
    let enc: Encoding = encodingOfContentType(req.header("content-type")) ?? "json";
    try {
      const caller = await publishingCaller(pub.guard, req, "http");
      const address = pub.guard.clientAddress(req);
      const body = parseBody(req, cfg);
      enc = body.enc;
      const order = new KeyedSerial();
      // W3C trace context of the request; an event's own `traceparent` field wins over it.
      const traceparent = req.header("traceparent");
      const work = Promise.all(
        body.items.map((frame) =>
          order.run(frame.channel, async () => {
            const r = { caller, address, frame, traceparent };
            return await publishEvent(pub, r, admit(pub, r));
          }).then(
            (ack): AckFrame | ErrorFrame => ack,
            (err) => errorFrame(errorCode(err), errorMessage(err), frame.id, retryAfterMs(err)),
          )
        ),
      );
      inflight.track(work);
      const results = await work;
      const { status, headers } = outcome(results);
      return encoded(status, body.batch ? results : results[0], enc, headers);
    } catch (err) {
      if (enc === "json") return errorResponse(err);
      const code = errorCode(err);
      return encoded(
        httpStatus(code),
        errorFrame(code, errorMessage(err), undefined, retryAfterMs(err)),
        enc,
        retryAfterHeader(retryAfterMs(err)),
      );
    }
  };
}

import { contentTypeOf, decodeFrame, encodeFrame, type Encoding, encodingOfContentType } from "../codec/mod.ts";
import { errorCode, errorMessage, httpStatus, JetmeshError } from "../errors/mod.ts";
import { errorResponse } from "../httpapi/mod.ts";
import type { Inflight } from "../lifecycle/mod.ts";
import { KeyedSerial } from "../ordering/mod.ts";
import { type AckFrame, type ErrorFrame, errorFrame, parsePub, type PubFrame } from "../protocol/mod.ts";
import type { HttpHandler, HttpRequest, HttpResponse } from "../wsserver/mod.ts";
import { authenticate, credentialsOf } from "./auth.ts";
import type { IngestConfig } from "./config.ts";
import { publishEvent, type PublisherOptions } from "./publisher.ts";

function encoded(status: number, body: unknown, enc: Encoding): HttpResponse {
  return { status, headers: { "content-type": contentTypeOf(enc) }, body: encodeFrame(body, enc) };
}

function parseBody(req: HttpRequest, cfg: IngestConfig): { enc: Encoding; items: PubFrame[]; batch: boolean } {
  const enc = encodingOfContentType(req.header("content-type"));
  if (enc === undefined) {
    throw new JetmeshError("bad_request", "Content-Type must be application/json or application/msgpack");
  }
  const value = decodeFrame(req.body, enc);
  const batch = Array.isArray(value);
  const raw = batch ? value : [value];
  if (raw.length === 0) throw new JetmeshError("bad_request", "empty batch");
  if (raw.length > cfg.maxBatch) throw new JetmeshError("too_large", `at most ${cfg.maxBatch} events per request`);
  // All or nothing on validation: a batch with one bad event publishes none, and the error names it.
  const items = raw.map((v, i) => {
    try {
      return parsePub(v);
    } catch (err) {
      throw new JetmeshError(errorCode(err), batch ? `event ${i}: ${errorMessage(err)}` : errorMessage(err));
    }
  });
  return { enc, items, batch };
}

/**
 * POST /v1/publish: one event or an array, JSON or msgpack. Answers like the
 * WebSocket: an ack (or error) per event, in the request's encoding. Events of
 * one channel in a batch are published one after another, so a retried publish
 * cannot overtake an earlier one.
 */
export function publishHandler(cfg: IngestConfig, pub: PublisherOptions, inflight: Inflight): HttpHandler {
  return async (req) => {
    let enc: Encoding = encodingOfContentType(req.header("content-type")) ?? "json";
    try {
      const publisher = authenticate(cfg.tokens, credentialsOf(req));
      const body = parseBody(req, cfg);
      enc = body.enc;
      const order = new KeyedSerial();
      // W3C trace context of the request; an event's own `traceparent` field wins over it.
      const traceparent = req.header("traceparent");
      const work = Promise.all(
        body.items.map((item) =>
          order.run(item.channel, () => publishEvent(pub, publisher, item, traceparent)).then(
            (ack): AckFrame | ErrorFrame => ack,
            (err) => errorFrame(errorCode(err), errorMessage(err), item.id),
          )
        ),
      );
      inflight.track(work);
      const results = await work;
      const firstError = results.find((r): r is ErrorFrame => r.op === "error");
      const status = firstError ? httpStatus(firstError.code) : 200;
      return encoded(status, body.batch ? results : results[0], enc);
    } catch (err) {
      if (enc === "json") return errorResponse(err);
      return encoded(httpStatus(errorCode(err)), errorFrame(errorCode(err), errorMessage(err)), enc);
    }
  };
}

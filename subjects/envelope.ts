import { packValue, unpackValue } from "../internal/codec/mod.ts";
import { checkChannel } from "./channel.ts";

/**
 * The event envelope on the bus (msgpack, plain maps). The same envelope
 * travels INGEST → EVENTS; route adds `routedAt`.
 */
export interface Envelope {
  v: 1;
  /**
   * `<publisher>:<client id>`; also the `Nats-Msg-Id` at every hop and the unique key in
   * PostgreSQL.
   */
  id: string;
  channel: string;
  /** Server receive time at ingest, ms since the Unix epoch. */
  ts: number;
  /**
   * The producer identity: who published the event (the token's `sub`, or the name an open
   * ingest was given). The wire keeps the field name `publisher`; in code it is no bus
   * publisher (`StreamPublisher`) and no SDK class (`IngestClient`).
   */
  publisher: string;
  data: unknown;
  routedAt?: number;
}

export const ENVELOPE_VERSION = 1;
export const MAX_CLIENT_ID_LENGTH = 128;

const publisherRe = /^[A-Za-z0-9_-]{1,64}$/;
// Visible ASCII only: the id is sent as a NATS header value and logged verbatim.
const clientIdRe = /^[\x21-\x7e]{1,128}$/;

export function isPublisher(p: unknown): p is string {
  return typeof p === "string" && publisherRe.test(p);
}

export function isClientId(id: unknown): id is string {
  return typeof id === "string" && clientIdRe.test(id);
}

/** Publishers cannot contain ':', so the first ':' splits an event id unambiguously. */
export function eventId(publisher: string, clientId: string): string {
  return `${publisher}:${clientId}`;
}

/** Ids for events sent without one: unique, and never equal to a retry, so never deduplicated. */
export function assignClientId(): string {
  return `auto-${crypto.randomUUID()}`;
}

export function encodeEnvelope(e: Envelope): Uint8Array {
  return packValue(e);
}

class EnvelopeError extends Error {
  override name = "EnvelopeError";
}

/** Bytes from the bus are untrusted: check every field before use. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  let v: unknown;
  try {
    v = unpackValue(bytes);
  } catch (err) {
    throw new EnvelopeError(`envelope is not msgpack: ${(err as Error).message}`);
  }
  if (typeof v !== "object" || v === null) throw new EnvelopeError("envelope is not a map");
  const e = v as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION) {
    throw new EnvelopeError(`unsupported envelope version ${String(e.v)}`);
  }
  if (typeof e.id !== "string" || e.id.indexOf(":") < 1) {
    throw new EnvelopeError("envelope id is missing or malformed");
  }
  if (!checkChannel(e.channel).ok) throw new EnvelopeError("envelope channel is invalid");
  if (typeof e.ts !== "number") throw new EnvelopeError("envelope ts is not a number");
  if (!isPublisher(e.publisher)) throw new EnvelopeError("envelope publisher is invalid");
  if (e.routedAt !== undefined && typeof e.routedAt !== "number") {
    throw new EnvelopeError("envelope routedAt is not a number");
  }
  return e as unknown as Envelope;
}

import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/transport-node";
import { TRACEPARENT_HEADER, TRACESTATE_HEADER } from "../../subjects/mod.ts";
import { formatTraceparent, remoteParent } from "./traceparent.ts";

export { type Span, SpanKind };

/**
 * What the services use to trace an event hop by hop. A service holds a
 * `Tracing | undefined`: undefined means tracing is off, and every call site
 * is written `tracing?.start(…)`, so with tracing off not even the attribute
 * object is built.
 */
export interface Tracing {
  /** A span whose parent is the W3C context given (a new trace when there is none). */
  start(
    name: string,
    kind: SpanKind,
    traceparent: string | undefined,
    attributes: Attributes,
  ): Span;
  /** A span whose parent is the trace context in a NATS message's headers. */
  startFromHeaders(
    name: string,
    kind: SpanKind,
    headers: MsgHdrs | undefined,
    attributes: Attributes,
  ): Span;
  /** Writes the span's context into outgoing NATS headers, so the next hop continues the trace. */
  inject(span: Span, headers: MsgHdrs): void;
  /** Runs `fn` with `span` active: log lines written inside carry its trace id. */
  within<T>(span: Span, fn: () => T): T;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** Marks a span failed: a trace search for errors finds it. */
export function failSpan(span: Span | undefined, err: unknown): void {
  if (span === undefined) return;
  if (err instanceof Error) span.recordException(err);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: err instanceof Error ? err.message : String(err),
  });
}

/** Ends a span, marking it failed when `err` is given. */
export function endSpan(span: Span | undefined, err?: unknown): void {
  if (span === undefined) return;
  if (err !== undefined) failSpan(span, err);
  span.end();
}

function header(h: MsgHdrs | undefined, name: string): string | undefined {
  // The NATS client answers "" for a missing header.
  return h?.get(name) || undefined;
}

export class OtelTracing implements Tracing {
  readonly #tracer: Tracer;
  readonly #shutdown: () => Promise<void>;

  constructor(tracer: Tracer, shutdown: () => Promise<void>) {
    this.#tracer = tracer;
    this.#shutdown = shutdown;
  }

  start(
    name: string,
    kind: SpanKind,
    traceparent: string | undefined,
    attributes: Attributes,
  ): Span {
    return this.#tracer.startSpan(name, { kind, attributes }, remoteParent(traceparent));
  }

  startFromHeaders(
    name: string,
    kind: SpanKind,
    headers: MsgHdrs | undefined,
    attributes: Attributes,
  ): Span {
    const parent = remoteParent(
      header(headers, TRACEPARENT_HEADER),
      header(headers, TRACESTATE_HEADER),
    );
    return this.#tracer.startSpan(name, { kind, attributes }, parent);
  }

  inject(span: Span, headers: MsgHdrs): void {
    const sc = span.spanContext();
    headers.set(TRACEPARENT_HEADER, formatTraceparent(sc));
    const state = sc.traceState?.serialize();
    if (state) headers.set(TRACESTATE_HEADER, state);
  }

  within<T>(span: Span, fn: () => T): T {
    return context.with(trace.setSpan(context.active(), span), fn);
  }

  shutdown(): Promise<void> {
    return this.#shutdown();
  }
}

import {
  type Context,
  createTraceState,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from "@opentelemetry/api";

/**
 * W3C trace context (https://www.w3.org/TR/trace-context/), version 00:
 * `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`. Parsed here rather
 * than through the SDK's propagator so the hot path reads two header values
 * and allocates nothing else.
 */
const traceparentRe = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "00000000000000000000000000000000";
const ZERO_SPAN = "0000000000000000";

export function parseTraceparent(
  traceparent: string | undefined,
  tracestate?: string,
): SpanContext | undefined {
  if (!traceparent) return undefined;
  const m = traceparentRe.exec(traceparent.trim());
  // Version ff is invalid; a future version may add fields after the flags, version 00 may not.
  if (!m || m[1] === "ff" || (m[1] === "00" && m[5] !== undefined)) return undefined;
  if (m[2] === ZERO_TRACE || m[3] === ZERO_SPAN) return undefined;
  return {
    traceId: m[2],
    spanId: m[3],
    traceFlags: parseInt(m[4], 16) & 1,
    isRemote: true,
    traceState: tracestate ? createTraceState(tracestate) : undefined,
  };
}

export function formatTraceparent(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags & 1}`;
}

/**
 * The context to start a span in: the remote parent, or a new trace when there is none (or it is
 * malformed).
 */
export function remoteParent(traceparent: string | undefined, tracestate?: string): Context {
  const sc = parseTraceparent(traceparent, tracestate);
  return sc === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, sc);
}

/** True for a traceparent worth passing on; cheaper than parsing when only a copy is needed. */
export function isTraceparent(traceparent: string): boolean {
  return parseTraceparent(traceparent) !== undefined;
}

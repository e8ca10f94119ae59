export { ATTR } from "./attributes.ts";
export { startTracing } from "./setup.ts";
export { formatTraceparent, isTraceparent, parseTraceparent, remoteParent } from "./traceparent.ts";
export { endSpan, failSpan, type Span, SpanKind, type Tracing } from "./tracing.ts";

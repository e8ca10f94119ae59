/** Header names used on the bus. `Nats-Msg-Id` carries the event id at every hop. */
export const MSG_ID_HEADER = "Nats-Msg-Id";
/** Reserved for W3C trace context. */
export const TRACEPARENT_HEADER = "traceparent";
export const TRACESTATE_HEADER = "tracestate";
/** On DLQ messages: why, from where, after how many deliveries. */
export const DLQ_REASON_HEADER = "Jetmesh-Dlq-Reason";
export const DLQ_STREAM_HEADER = "Jetmesh-Dlq-Stream";
export const DLQ_SEQ_HEADER = "Jetmesh-Dlq-Seq";
export const DLQ_DELIVERIES_HEADER = "Jetmesh-Dlq-Deliveries";

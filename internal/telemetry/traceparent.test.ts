import t from "tap";
import { formatTraceparent, parseTraceparent, remoteParent } from "./traceparent.ts";
import { ROOT_CONTEXT, trace } from "@opentelemetry/api";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

t.test("W3C traceparent round trip", async (t) => {
  const sc = parseTraceparent(`00-${TRACE}-${SPAN}-01`, "vendor=x");
  t.same([sc?.traceId, sc?.spanId, sc?.traceFlags, sc?.isRemote, sc?.traceState?.get("vendor")], [
    TRACE,
    SPAN,
    1,
    true,
    "x",
  ]);
  t.equal(formatTraceparent(sc!), `00-${TRACE}-${SPAN}-01`);
  t.equal(
    parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.traceFlags,
    0,
    "not sampled stays not sampled",
  );
  t.equal(
    parseTraceparent(`cc-${TRACE}-${SPAN}-01-future`)?.traceId,
    TRACE,
    "a later version may append fields",
  );
});

t.test("malformed context is ignored, never half-used", async (t) => {
  for (
    const bad of [
      undefined,
      "",
      "garbage",
      `00-${TRACE}-${SPAN}-01-extra`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${"0".repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${"0".repeat(16)}-01`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}`,
    ]
  ) {
    t.equal(parseTraceparent(bad), undefined, String(bad));
  }
  t.equal(remoteParent("garbage"), ROOT_CONTEXT, "no parent: the span starts a new trace");
  t.equal(trace.getSpanContext(remoteParent(`00-${TRACE}-${SPAN}-01`))?.spanId, SPAN);
});

import t from "tap";
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { AsyncContextManager } from "../telemetry/context.ts";
import { createLogger } from "./mod.ts";

t.test("a line written inside a span carries its trace id; outside it does not", async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ svc: "test" }, { sink: (l) => lines.push(JSON.parse(l)) });
  log.info("before any context manager");
  context.setGlobalContextManager(new AsyncContextManager());
  t.teardown(() => context.disable());
  const sc = {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    traceFlags: 1,
  };
  await context.with(trace.setSpanContext(ROOT_CONTEXT, sc), async () => {
    await new Promise((r) => setTimeout(r, 1));
    log.child({ part: "x" }).warn("inside, after an await");
  });
  log.info("after");
  t.same(lines.map((l) => [l.msg, l.trace_id, l.span_id]), [
    ["before any context manager", undefined, undefined],
    ["inside, after an await", sc.traceId, sc.spanId],
    ["after", undefined, undefined],
  ]);
});

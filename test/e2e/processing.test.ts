/**
 * Issue 15: route runs the IoT example's rules (examples/iot/namespaces.yaml).
 * The IoT load generator's input (out of order, duplicated and late readings)
 * goes through a real ingest; a subscriber on notify collects iot.avg10s.*,
 * alerts.iot.* and iot.late.*, which must equal the generator's reference
 * output exactly, each once. The fault suite's processing mode
 * (test/faults/processing.test.ts) runs the same with route replicas killed.
 */
import { fileURLToPath } from "node:url";
import t from "tap";
import { publishInput } from "./example-results.ts";
import { startExampleStack } from "./example-stack.ts";
import { compareIot, iotInput, iotSubscriber } from "./iot-results.ts";

const NAMESPACES = fileURLToPath(new URL("../../examples/iot/namespaces.yaml", import.meta.url));

t.test("IoT rules in route: results equal the reference", async (t) => {
  const stack = await startExampleStack(t, {
    namespaces: NAMESPACES,
    routeReplicas: 1,
    logName: "processing",
  });
  const sub = await iotSubscriber(t, stack.notifyWs);
  const { planned, events, expected } = iotInput(stack.token, 6000);
  await publishInput(t, stack, events);
  const distinct = new Set(planned.map((p) => p.id)).size;
  await compareIot(t, sub, expected, distinct);
});

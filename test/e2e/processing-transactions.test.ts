/**
 * Issue 15: route runs the transactions example's rules (examples/transactions/namespaces.yaml).
 * The transactions generator's input (out of order, duplicated, late and malformed
 * transactions) goes through a real ingest; a subscriber on notify collects the one-minute
 * windows every 10 s, the alerts on them, and the flagged, rejected and late transactions,
 * which must equal the generator's reference output exactly, each once.
 */
import { fileURLToPath } from "node:url";
import t from "tap";
import { publishInput } from "./example-results.ts";
import { startExampleStack } from "./example-stack.ts";
import {
  compareTransactions,
  transactionsInput,
  transactionsSubscriber,
} from "./transactions-results.ts";

const NAMESPACES = fileURLToPath(
  new URL("../../examples/transactions/namespaces.yaml", import.meta.url),
);

t.test("transactions rules in route: results equal the reference", async (t) => {
  const stack = await startExampleStack(t, {
    namespaces: NAMESPACES,
    routeReplicas: 1,
    logName: "processing-transactions",
  });
  const sub = await transactionsSubscriber(t, stack.notifyWs, stack.mint);
  const { events, expected, valid } = transactionsInput(stack.token, 8000);
  await publishInput(t, stack, events);
  await compareTransactions(t, sub, expected, valid);
});

/**
 * Runs the shared scenarios on the Deno server: `npx deno run -A test/wsserver/deno-smoke.ts`.
 * Prints "ok NAME" or "not ok NAME: problems" per scenario and exits 1 on any failure;
 * deno.test.ts runs it under tap.
 */
import { strict as assert } from "node:assert";
import process from "node:process";
import { isDeno, startServer } from "../../internal/wsserver/mod.ts";
import { type Check, scenarios } from "./scenarios.ts";

if (!isDeno()) throw new Error("run this with deno; on Node the tap tests cover uWebSockets.js");

let failed = 0;
for (const [name, run] of Object.entries(scenarios)) {
  const problems: string[] = [];
  // Collect instead of throwing, so one scenario reports all its failed checks like tap does.
  const record = (message: string | undefined, assertion: () => void) => {
    try {
      assertion();
    } catch (err) {
      problems.push(
        `${message ? `${message}: ` : ""}${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  const check: Check = {
    equal: (actual, expected, ...message) =>
      record(message[0], () => assert.equal(actual, expected)),
    strictSame: (actual, expected, ...message) =>
      record(message[0], () => assert.deepEqual(actual, expected)),
    ok: (value, ...message) => record(message[0], () => assert.ok(value)),
  };
  try {
    await run(startServer, check);
  } catch (err) {
    problems.push(`threw ${err instanceof Error ? err.stack : String(err)}`);
  }
  if (problems.length > 0) failed++;
  console.log(
    problems.length === 0
      ? `ok ${name}`
      : `not ok ${name}: ${problems.join(" | ").replaceAll("\n", " ")}`,
  );
}
console.log(
  `# deno smoke: ${Object.keys(scenarios).length - failed} of ${
    Object.keys(scenarios).length
  } passed`,
);
// Exit outright: a client that left during an async upgrade leaves Deno a connection that never
// ends (see deno.ts close()).
process.exit(failed > 0 ? 1 : 0);

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import t from "tap";
import { startStack } from "../e2e/stack.ts";

t.test("the same SDK code runs under Deno on its global WebSocket", async (t) => {
  const stack = await startStack();
  t.teardown(stack.stop);
  const { stdout } = await promisify(execFile)(
    "node_modules/.bin/deno",
    ["run", "--allow-net", "test/sdk/deno-client.ts", stack.ingestWs, stack.notifyWs],
    { timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } },
  );
  const result = JSON.parse(stdout.trim().split("\n").at(-1)!);
  t.same(result, { acks: [false, false, false], seen: [{ n: 1 }, { n: 2 }, { n: 3 }], state: "open" }, "published, acked, received in order");
});

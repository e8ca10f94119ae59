import { execFile } from "node:child_process";
import { promisify } from "node:util";
import t from "tap";
import { startStack } from "../../devkit/in-process-stack.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";

t.test("the same SDK code runs under Deno on its global WebSocket, with a token", async (t) => {
  const auth = jwtAuth();
  const stack = await startStack(auth.env);
  t.teardown(stack.stop);
  const token = await mintToken(auth.secret, "deno", {
    publish: ["deno.>"],
    subscribe: ["deno.>"],
  });
  const { stdout } = await promisify(execFile)(
    "node_modules/.bin/deno",
    ["run", "--allow-net", "test/sdk/deno-client.ts", stack.ingestWs, stack.notifyWs, token],
    { timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } },
  );
  const result = JSON.parse(stdout.trim().split("\n").at(-1)!);
  t.same(result, {
    acks: [false, false, false],
    seen: [{ n: 1 }, { n: 2 }, { n: 3 }],
    publishers: ["deno"],
    state: "open",
  }, "published as the token's sub, acked, received in order");
});

/**
 * Run under Deno by deno.test.ts: the SDK on Deno's global WebSocket, with a
 * token from getToken. Arguments: ingest URL, notify URL, token. Prints one
 * JSON line with what it saw.
 */
import { JetmeshClient } from "../../sdk/mod.ts";

const [ingestUrl, notifyUrl, token] =
  (globalThis as unknown as { Deno: { args: string[] } }).Deno.args;
const client = new JetmeshClient({ ingestUrl, notifyUrl, getToken: () => Promise.resolve(token) });
const sub = client.subscribe("deno.sdk");
await sub.ready;
const acks = await Promise.all([1, 2, 3].map((n) => client.publish("deno.sdk", { n })));
const seen: unknown[] = [];
const publishers = new Set<string>();
for await (const e of sub) {
  seen.push(e.data);
  publishers.add(e.id.split(":")[0]);
  if (seen.length === 3) break;
}
console.log(
  JSON.stringify({
    acks: acks.map((a) => a.dup),
    seen,
    publishers: [...publishers],
    state: client.state,
  }),
);
client.close();

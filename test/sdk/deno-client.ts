/**
 * Run under Deno by deno.test.ts: the SDK on Deno's global WebSocket.
 * Arguments: ingest URL, notify URL. Prints one JSON line with what it saw.
 */
import { JetmeshClient } from "../../sdk/mod.ts";

const [ingestUrl, notifyUrl] = (globalThis as unknown as { Deno: { args: string[] } }).Deno.args;
const client = new JetmeshClient({ ingestUrl, notifyUrl, publisher: "deno" });
const sub = client.subscribe("deno.sdk");
await sub.ready;
const acks = await Promise.all([1, 2, 3].map((n) => client.publish("deno.sdk", { n })));
const seen: unknown[] = [];
for await (const e of sub) {
  seen.push(e.data);
  if (seen.length === 3) break;
}
console.log(JSON.stringify({ acks: acks.map((a) => a.dup), seen, state: client.state }));
client.close();

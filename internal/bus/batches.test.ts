import t from "tap";
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../../test/helpers/nats-server.ts";
import { createLogger } from "../log/mod.ts";
import { consumeBatches } from "./batches.ts";

const quiet = createLogger({ svc: "test" }, { level: "error", sink: () => {} });

t.test("every message is handed over promptly, however the pulls and batches fall", async (t) => {
  const ns = await startNatsServer();
  t.teardown(() => ns.stop());
  const nc = await connect({ servers: ns.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: "B", subjects: ["b.>"] });
  // 1000 is not a multiple of the batch (256) nor of the pull size (512). With
  // consume() and `getPending() === 0` closing batches (nats.js 3.4), the
  // last partial batch of a round sometimes waited for ack_wait's redelivery.
  for (let i = 0; i < 1000; i++) await js.publish(`b.${i % 7}`, String(i));

  for (const round of [1, 2, 3, 4, 5]) {
    const name = `c${round}`;
    // A long ack wait: a message left in a batch would only come back after it.
    await jsm.consumers.add("B", { durable_name: name, ack_policy: AckPolicy.Explicit, ack_wait: 60_000_000_000 });
    const abort = new AbortController();
    const seen = new Set<number>();
    const sizes: number[] = [];
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => (done = resolve));
    const loop = consumeBatches(
      await js.consumers.get("B", name),
      { maxBatch: 256, signal: abort.signal, log: quiet, reopen: () => js.consumers.get("B", name) },
      async (batch: JsMsg[]) => {
        sizes.push(batch.length);
        for (const m of batch) {
          seen.add(m.seq);
          m.ack();
        }
        if (seen.size === 1000) done();
      },
    );
    const started = Date.now();
    const timer = new Promise<string>((r) => setTimeout(() => r("timeout"), 10_000));
    const outcome = await Promise.race([all.then(() => "all"), timer]);
    abort.abort();
    await loop;
    t.equal(outcome, "all", `round ${round}: 1000 messages in ${Date.now() - started} ms, batches ${JSON.stringify(sizes)}`);
    t.ok(sizes.every((s) => s >= 1 && s <= 256), "no batch above the maximum");
  }
});

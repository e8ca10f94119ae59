import t, { type Test } from "tap";
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { createLogger } from "../log/mod.ts";
import { consumeBatches } from "./batches.ts";

const quiet = createLogger({ svc: "test" }, { level: "error", sink: () => {} });

/** A nats-server of the test's own with one stream on it, all stopped at the test's end. */
async function streamOnNewServer(t: Test, name: string, subject: string) {
  const ns = await startNatsServer();
  t.teardown(() => ns.stop());
  const nc = await connect({ servers: ns.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [subject] });
  return { js: jetstream(nc), jsm };
}

t.test("every message is handed over promptly, however the pulls and batches fall", async (t) => {
  const { js, jsm } = await streamOnNewServer(t, "B", "b.>");
  // 1000 is not a multiple of the batch (256) nor of the pull size (512). With
  // consume() and `getPending() === 0` closing batches (nats.js 3.4), the
  // last partial batch of a round sometimes waited for ack_wait's redelivery.
  for (let i = 0; i < 1000; i++) await js.publish(`b.${i % 7}`, String(i));

  for (const round of [1, 2, 3, 4, 5]) {
    const name = `c${round}`;
    // A long ack wait: a message left in a batch would only come back after it.
    await jsm.consumers.add("B", {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      ack_wait: 60_000_000_000,
    });
    const abort = new AbortController();
    const seen = new Set<number>();
    const sizes: number[] = [];
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => (done = resolve));
    const loop = consumeBatches(
      await js.consumers.get("B", name),
      {
        maxBatch: 256,
        signal: abort.signal,
        log: quiet,
        reopen: () => js.consumers.get("B", name),
      },
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
    t.equal(
      outcome,
      "all",
      `round ${round}: 1000 messages in ${Date.now() - started} ms, batches ${
        JSON.stringify(sizes)
      }`,
    );
    t.ok(sizes.every((s) => s >= 1 && s <= 256), "no batch above the maximum");
  }
});

t.test("with a linger, messages that arrive while a batch waits join it", async (t) => {
  const { js, jsm } = await streamOnNewServer(t, "L", "l.>");
  for (const lingerMs of [0, 400]) {
    const name = `linger${lingerMs}`;
    await jsm.consumers.add("L", {
      durable_name: name,
      filter_subject: `l.${lingerMs}`,
      ack_policy: AckPolicy.Explicit,
      ack_wait: 60_000_000_000,
    });
    const abort = new AbortController();
    const sizes: number[] = [];
    let handed = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => (done = resolve));
    const loop = consumeBatches(
      await js.consumers.get("L", name),
      {
        maxBatch: 256,
        signal: abort.signal,
        log: quiet,
        reopen: () => js.consumers.get("L", name),
        lingerMs,
      },
      async (batch: JsMsg[]) => {
        sizes.push(batch.length);
        for (const m of batch) m.ack();
        if ((handed += batch.length) === 5) done();
      },
    );
    // One message, then four more 100 ms later: inside a 400 ms linger, well after a batch
    // without one.
    await js.publish(`l.${lingerMs}`, "first");
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 4; i++) await js.publish(`l.${lingerMs}`, String(i));
    await all;
    abort.abort();
    await loop;
    if (lingerMs === 0) t.equal(sizes[0], 1, "without a linger the first message goes alone");
    else t.same(sizes, [5], "with a linger the five share one batch");
  }
});

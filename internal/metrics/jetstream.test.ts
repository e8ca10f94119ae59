import t from "tap";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { parseMetrics, valueOf } from "../../devkit/prometheus.ts";
import { consumerLag, natsConnected, streamMessages } from "./jetstream.ts";
import { createRegistry } from "./registry.ts";

t.test("consumer lag and stream size come from JetStream at scrape time", async (t) => {
  const ns = await startNatsServer();
  t.teardown(() => ns.stop());
  const nc = await connect({ servers: ns.url });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "LAG", subjects: ["lag.>"] });
  await jsm.consumers.add("LAG", {
    durable_name: "worker",
    ack_policy: AckPolicy.Explicit,
    ack_wait: 60_000_000_000,
  });
  const js = jetstream(nc);
  for (let i = 0; i < 7; i++) await js.publish(`lag.${i}`, "x");

  const reg = createRegistry("test");
  consumerLag(reg, jsm, "LAG", "worker");
  streamMessages(reg, jsm, ["LAG", "MISSING"]);
  let up = true;
  natsConnected(reg, () => up);
  const scrape = async () => parseMetrics(await reg.metrics());
  const labels = { stream: "LAG", consumer: "worker" };

  let m = await scrape();
  t.same([
    valueOf(m, "jetmesh_consumer_num_pending", labels),
    valueOf(m, "jetmesh_consumer_num_ack_pending", labels),
  ], [7, 0]);
  t.equal(valueOf(m, "jetmesh_stream_messages", { stream: "LAG" }), 7);
  t.equal(
    valueOf(m, "jetmesh_stream_messages", { stream: "MISSING" }),
    undefined,
    "a stream that cannot be read has no series, not a stale one",
  );
  t.equal(valueOf(m, "jetmesh_nats_connected"), 1);

  // Three delivered and not acked: they move from pending to ack pending.
  const consumer = await js.consumers.get("LAG", "worker");
  const batch = await consumer.fetch({ max_messages: 3, expires: 2000 });
  const held = [];
  for await (const msg of batch) held.push(msg);
  t.equal(held.length, 3);
  m = await scrape();
  t.same(
    [
      valueOf(m, "jetmesh_consumer_num_pending", labels),
      valueOf(m, "jetmesh_consumer_num_ack_pending", labels),
    ],
    [4, 3],
    "the next scrape sees the change",
  );
  for (const msg of held) await msg.ackAck();
  m = await scrape();
  t.equal(valueOf(m, "jetmesh_consumer_num_ack_pending", labels), 0);
  up = false;
  t.equal(valueOf(await scrape(), "jetmesh_nats_connected"), 0);
});

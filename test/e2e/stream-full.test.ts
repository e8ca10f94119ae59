import t from "tap";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { EVENTS_STREAM, INGEST_STREAM } from "../../subjects/mod.ts";
import { startStack } from "../../devkit/in-process-stack.ts";

t.test("a full INGEST refuses a publish with a clear error and keeps every event it acked", async (t) => {
  const stack = await startStack({ INGEST_MAX_BYTES: "4096" });
  t.teardown(stack.stop);
  const publish = async (id: string) => {
    const res = await fetch(`${stack.ingestHttp}/v1/publish`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, channel: "full.test", data: "x".repeat(400) }),
    });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };
  const acked: string[] = [];
  let refused: { status: number; body: Record<string, unknown> } | undefined;
  for (let i = 0; i < 50 && refused === undefined; i++) {
    const started = Date.now();
    const r = await publish(`e${i}`);
    if (r.body.op === "ack") acked.push(`e${i}`);
    else refused = { ...r, body: { ...r.body, ms: Date.now() - started } };
  }
  t.ok(acked.length > 0, `${acked.length} events acked before the stream filled`);
  t.match(refused, {
    status: 503,
    body: { op: "error", code: "unavailable", message: /^stream full: INGEST/ },
  }, "the next one is refused");
  t.ok(
    Number(refused?.body.ms) < 1000,
    `at once (${refused?.body.ms} ms), not after the publish timeout`,
  );

  const nc = await connect({ servers: stack.nats.url, ...stack.admin });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const ingest = await jsm.streams.info(INGEST_STREAM);
  t.equal(ingest.config.max_bytes, 4096);
  t.equal(
    ingest.state.messages,
    acked.length,
    "INGEST holds every acked event, none dropped to make room",
  );
  const deadline = Date.now() + 15_000;
  while (
    (await jsm.streams.info(EVENTS_STREAM)).state.messages < acked.length && Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(
    (await jsm.streams.info(EVENTS_STREAM)).state.messages,
    acked.length,
    "and route moved all of them to EVENTS",
  );
});

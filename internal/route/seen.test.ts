import t from "tap";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { migrateAsAdmin } from "../../devkit/nats-users.ts";
import { createLogger } from "../log/mod.ts";
import { SEEN_BUCKET } from "../../subjects/mod.ts";
import { PipelinedPublisher } from "../bus/mod.ts";
import { SeenIds, seenKey } from "./seen.ts";

t.test("an id reads as routed from the INGEST message recorded for it, and only once recorded", async (t) => {
  const ns = await startNatsServer();
  t.teardown(() => ns.stop());
  const nc = await connect({ servers: ns.url });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  const log = createLogger({ svc: "route" }, { level: "error", sink: () => {} });
  const pub = new PipelinedPublisher(nc, "_INBOX_test");
  const missing = await SeenIds.open(js, pub, 60_000, log).catch((e: unknown) => e);
  t.match(missing, {
    code: "not_migrated",
    message: /KV bucket jetmesh_seen does not exist: run the migration .*make migrate/,
  }, "route does not create the bucket");
  await migrateAsAdmin([ns.url], { ROUTE_DEDUPE_TTL: "60s" });
  const seen = await SeenIds.open(js, pub, 60_000, log);

  t.equal(await seen.routed("evt-1"), undefined, "never seen");
  await seen.markRouted("evt-1", 41);
  t.same(await seen.routed("evt-1"), { seq: 41 });
  await seen.markRouted("evt-1", 57);
  t.same(await seen.routed("evt-1"), { seq: 57 }, "the latest record wins");
  t.equal(await seen.routed("evt-2"), undefined, "other ids are not affected");

  const kv = await new Kvm(js).open(SEEN_BUCKET);
  await kv.put(seenKey("evt-3"), "12");
  t.equal(
    await seen.routed("evt-3"),
    undefined,
    "a claim without the routed mark (written before this design) is not routed",
  );
  await kv.purge(seenKey("evt-1"));
  t.equal(await seen.routed("evt-1"), undefined, "a purged id is free again");
});

t.test("ids that are not valid KV keys as they are map to distinct keys", async (t) => {
  const ids = ["a b", "a+b", "a/b", "a=b", "ä", "a_b"];
  const keys = ids.map(seenKey);
  t.equal(new Set(keys).size, ids.length);
  for (const k of keys) t.match(k, /^[-_=A-Za-z0-9]+$/);
});

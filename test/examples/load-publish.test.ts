/**
 * The IoT load generator against a real ingest (HTTP, JWT): every planned event
 * stored once, duplicates answered as such, and the expected-results file.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { startStack } from "../../devkit/in-process-stack.ts";
import { jwtAuth, mintToken } from "../../devkit/tokens.ts";
import { main, plan } from "../../examples/load/cli.ts";
import { publishAll } from "../../examples/load/publish.ts";
import { iot } from "../../examples/iot/load.ts";
import { INGEST_STREAM } from "../../subjects/mod.ts";

t.test("iot load through ingest", async (t) => {
  const auth = jwtAuth();
  const stack = await startStack({
    ...auth.env,
    JETMESH_NAMESPACES: "examples/iot/namespaces.yaml",
  });
  t.teardown(stack.stop);
  const token = await mintToken(auth.secret, "loadgen");
  const { planned, events } = plan(iot, {
    seed: 3,
    start: Date.now(),
    durationSec: 4,
    rate: 150,
    keys: 100,
  });
  const dups = planned.filter((p) => p.kind === "duplicate").length;
  t.ok(dups > 0, `${dups} duplicates planned`);
  const began = Date.now();
  const stats = await publishAll(events, { ingestUrl: stack.ingestHttp, token });
  t.ok(Date.now() - began >= 3000, "paced over the duration, not sent at once");
  t.equal(stats.failed, 0, "nothing refused");
  t.equal(stats.acked, events.length, "every event acked");
  t.equal(stats.duplicates, dups, "each duplicate answered dup: true");
  const nc = await connect({ servers: stack.nats.url, ...stack.admin });
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(INGEST_STREAM);
  t.equal(info.state.messages, events.length - dups, "stored once each");

  t.test("the command line: --expected with --dry-run sends nothing", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "jetmesh-load-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "expected.json");
    await main(iot, [
      "--seed=3",
      "--start=1700000000000",
      "--duration=60",
      "--keys=50",
      "--expected",
      file,
      "--dry-run",
      `--token=${token}`,
    ]);
    const body = JSON.parse(readFileSync(file, "utf8"));
    t.equal(body.example, "iot");
    t.ok(body.windows.length > 0, "closed windows listed");
    t.match(body.windows[0], {
      channel: /^iot\.avg10s\.dev-\d{4}$/,
      data: { device: /^dev-/, windowStart: Number, windowEnd: Number, count: Number, avg: Number },
    });
    t.ok(body.late.every((id: string) => id.startsWith("loadgen:")), "ids as ingest makes them");
    t.equal((await jsm.streams.info(INGEST_STREAM)).state.messages, events.length - dups);
  });
});

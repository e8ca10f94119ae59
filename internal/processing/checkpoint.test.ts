import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import t from "tap";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { CHECKPOINT_BUCKET } from "../../subjects/buckets.ts";
import { CheckpointConflictError, CheckpointStore, ensureCheckpointBucket } from "./checkpoint.ts";
import type { EngineSnapshot } from "./snapshot.ts";
import { PartitionProcessor } from "./partition.ts";
import { CheckpointedPartition, PartitionLostError } from "./checkpointed.ts";
import type { KV } from "@nats-io/kv";
import { ProcessingSet } from "./route-step.ts";
import { parseNamespaces } from "../namespaces/mod.ts";

function snap(position: number, filler = 0): EngineSnapshot {
  return {
    v: 1,
    namespace: "iot readings/é",
    position,
    // Not a real window state: only its size matters to the store.
    windows: filler > 0 ? { w: { fingerprint: "x".repeat(filler) } as never } : {},
    alerts: {},
  };
}

t.test("checkpoint store over a real nats-server", async (t) => {
  const srv = await startNatsServer();
  t.teardown(() => srv.stop());
  const nc = await connect({ servers: srv.url });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  const kv = await ensureCheckpointBucket(js);
  // A small payload limit so a snapshot of a few hundred KB takes several chunks.
  const store = new CheckpointStore(nc, kv, { maxPayload: 65536 });

  t.test("empty, small inline, large chunked, each reloaded", async (t) => {
    const a = store.partition("iot readings/é", 3);
    t.same((await a.load()).snapshot, undefined, "nothing yet");
    await a.save(snap(10));
    const b = store.partition("iot readings/é", 3);
    t.same((await b.load()).snapshot, snap(10), "small snapshot back");
    const big = snap(20, 300_000);
    await b.save(big);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    t.ok(keys.filter((k) => k.startsWith("c.")).length >= 5, "written in chunks");
    const c = store.partition("iot readings/é", 3);
    t.same((await c.load()).snapshot, big, "large snapshot back byte for byte");
    await c.save(snap(30));
    const after: string[] = [];
    for await (const k of await kv.keys()) after.push(k);
    t.same(after.filter((k) => k.startsWith("c.")), [], "chunks of the replaced one deleted");
    const other = store.partition("iot readings/é", 4);
    t.same((await other.load()).snapshot, undefined, "partitions are separate");
  });

  t.test("a second owner fences the first", async (t) => {
    const first = store.partition("fence", 0);
    await first.load();
    await first.save(snap(1));
    const second = store.partition("fence", 0);
    t.same((await second.load()).snapshot?.position, 1);
    await t.rejects(first.save(snap(2)), CheckpointConflictError, "old owner cannot write");
    await second.save(snap(3, 200_000));
    const third = store.partition("fence", 0);
    t.equal((await third.load()).snapshot?.position, 3, "the second owner's state is kept");
    await t.rejects(second.save(snap(4)), CheckpointConflictError);
  });

  t.test("a crash between chunks and manifest leaves the last manifest valid", async (t) => {
    const p = store.partition("crash", 1);
    await p.load();
    await p.save(snap(5, 100_000));
    // What a writer killed after its chunks leaves: chunks of a generation no manifest names.
    await kv.put("c.Y3Jhc2g.1.deadbeef.0", new Uint8Array(10));
    await kv.put("c.Y3Jhc2g.1.deadbeef.1", new Uint8Array(10));
    const q = store.partition("crash", 1);
    t.same((await q.load()).snapshot, snap(5, 100_000), "previous checkpoint intact");
    const keys: string[] = [];
    for await (const k of await kv.keys("c.Y3Jhc2g.>")) keys.push(k);
    t.notOk(keys.some((k) => k.includes("deadbeef")), "orphan chunks swept on load");
  });

  t.test("past the server's own max_payload (1 MB by default)", async (t) => {
    t.equal(nc.info?.max_payload, 1024 * 1024);
    const p = new CheckpointStore(nc, kv).partition("huge", 0);
    await p.load();
    const huge = snap(7, 2_500_000);
    await p.save(huge);
    t.same((await new CheckpointStore(nc, kv).partition("huge", 0).load()).snapshot, huge);
  });

  t.test("a real engine's state through KV: restored, the run goes on the same", async (t) => {
    const set = ProcessingSet.fromConfig(parseNamespaces({
      namespaces: [{
        name: "n",
        channels: "s.>",
        rules: [{
          name: "w",
          window: {
            type: "tumbling",
            size: "10s",
            // Long: every event of the first run is still held at the checkpoint.
            lateness: "60s",
            key: "$tokens[1]",
            time: "t",
            aggregates: { n: "count()", avg: "avg(v)" },
            channel: "w.{key}",
            late: { policy: "route", channel: "late.{key}" },
          },
        }],
      }],
    }));
    const env = (i: number) => ({
      v: 1 as const,
      id: `p:${i}`,
      channel: `s.k${i % 300}`,
      ts: 1_700_000_000_000 + i * 10,
      publisher: "p",
      data: { t: 1_700_000_000_000 + i * 10, v: i % 17 },
    });
    const whole = new PartitionProcessor(0, set);
    const a = new PartitionProcessor(0, set, new Map(), { everyEvents: 1 });
    for (let i = 1; i <= 3000; i++) {
      await whole.step(i, env(i), 0);
      await a.step(i, env(i), 0);
      a.settled(i);
    }
    await a.takeCheckpoint(0);
    const cp = store.partition("n", 0);
    await cp.load();
    const [r] = a.ready();
    t.ok(JSON.stringify(r.snapshot).length > 65536, "state larger than one message");
    await cp.save(r.snapshot);
    const loaded = await store.partition("n", 0).load();
    const b = new PartitionProcessor(0, set, new Map([["n", loaded.snapshot]]));
    t.equal(b.replayFrom, 3001);
    let windows = 0;
    for (let i = 3001; i <= 10_000; i++) {
      const [x, y] = [await whole.step(i, env(i), 0), await b.step(i, env(i), 0)];
      windows += y.outputs.filter((o) => o.kind === "window").length;
      if (JSON.stringify(x.outputs) !== JSON.stringify(y.outputs)) {
        t.fail(`outputs of ${i} differ`);
        return;
      }
    }
    t.ok(windows > 300, `${windows} windows closed after the restore`);
    t.pass("the restored engine publishes what the uninterrupted one does");
  });

  t.test("a manifest write whose answer was lost is recognised as our own", async (t) => {
    let failNext = false;
    // The real bucket, but one update's answer goes missing after the server applied it.
    const flaky = new Proxy(kv, {
      get(target, prop, receiver) {
        if (prop === "update") {
          return async (k: string, v: Uint8Array, rev: number) => {
            const r = await target.update(k, v, rev);
            if (failNext) {
              failNext = false;
              throw new Error("TIMEOUT");
            }
            return r;
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === "function" ? v.bind(target) : v;
      },
    }) as KV;
    const p = new CheckpointStore(nc, flaky, { maxPayload: 65536 }).partition("lost", 0);
    await p.load();
    await p.save(snap(1, 100_000));
    failNext = true;
    await t.rejects(p.save(snap(2, 100_000)), /TIMEOUT/, "no answer");
    await p.save(snap(3, 100_000));
    t.equal((await store.partition("lost", 0).load()).snapshot?.position, 3, "not a conflict");
  });

  t.test("CheckpointedPartition: checkpoints as it goes, resumes, and loses to a new owner", async (t) => {
    const set = ProcessingSet.fromConfig(parseNamespaces({
      namespaces: [{
        name: "cp",
        channels: "q.>",
        rules: [{ name: "f", filter: "v > 0" }],
      }],
    }));
    const env = (i: number) => ({
      v: 1 as const,
      id: `p:${i}`,
      channel: "q.a",
      ts: i,
      publisher: "p",
      data: { v: i },
    });
    const a = await CheckpointedPartition.open(store, set, 9, { everyEvents: 10 });
    t.equal(a.replayFrom, 1, "nothing saved yet");
    for (let i = 1; i <= 25; i++) {
      await a.step(i, env(i), 0);
      a.settled(i);
    }
    await a.processor.idle();
    await a.saved();
    const peek = await store.partition("cp", 9).load();
    t.equal(peek.snapshot?.position, 20, "a checkpoint every 10 events, once settled");
    // That load fenced `a`: its next save finds another owner.
    let lost = false;
    const b = await CheckpointedPartition.open(store, set, 9, {
      everyEvents: 1,
      onLost: () => (lost = true),
    });
    t.equal(b.replayFrom, 21);
    await b.close();
    const c = await CheckpointedPartition.open(store, set, 9, {
      everyEvents: 1,
      onLost: () => (lost = true),
    });
    t.equal(c.replayFrom, 21, "close saved b's (unchanged) state");
    await c.step(21, env(21), 0);
    c.settled(21);
    await c.processor.idle();
    await c.saved();
    await c.close();
    t.equal((await CheckpointedPartition.open(store, set, 9)).replayFrom, 22, "c resumes after 21");
    await b.step(22, env(22), 0).catch(() => {});
    b.settled(22);
    t.notOk(lost, "b closed: it saves nothing more");
    const d = await CheckpointedPartition.open(store, set, 9, {
      everyEvents: 1,
      onLost: () => (lost = true),
    });
    const e = await CheckpointedPartition.open(store, set, 9, { everyEvents: 1 });
    await d.step(22, env(22), 0);
    d.settled(22);
    await d.processor.idle();
    await new Promise((r) => setTimeout(r, 10));
    await d.saved();
    t.ok(lost && d.lost, "d was fenced by e's open: its save is refused, onLost called");
    await t.rejects(d.step(23, env(23), 0), PartitionLostError, "and it steps no more");
    await e.close();
  });

  t.test("the bucket keeps one revision per key", async (t) => {
    const st = await kv.status();
    t.equal(st.bucket, CHECKPOINT_BUCKET);
    t.equal(st.history, 1);
  });
});

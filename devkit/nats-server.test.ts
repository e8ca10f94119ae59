import t from "tap";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { findNatsServer, NatsServerMissingError, startNatsServer } from "./nats-server.ts";
import { jetstreamManagerWhenReady, startNatsCluster } from "./nats-cluster.ts";

if (!findNatsServer()) {
  t.fail(new NatsServerMissingError().message);
} else {
  t.test("single server: connect, JetStream on, restart keeps a stream", async (t) => {
    const ns = await startNatsServer();
    t.teardown(() => ns.stop());
    t.match(ns.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    t.not(ns.port, 4222, "does not use the default port");
    t.ok(existsSync(ns.storeDir), "store dir exists");

    let nc = await connect({ servers: ns.url });
    let jsm = await jetstreamManager(nc);
    const info = await jsm.getAccountInfo();
    t.equal(info.streams, 0, "JetStream is enabled and empty");
    await jsm.streams.add({ name: "KEEP", subjects: ["keep.>"] });
    const ack = await jetstream(nc).publish("keep.a", "hello", { msgID: "m1" });
    t.equal(ack.seq, 1);
    await nc.close();

    const firstPid = ns.pid;
    await ns.restart();
    t.not(ns.pid, firstPid, "a new process");
    t.ok(ns.running);

    nc = await connect({ servers: ns.url });
    jsm = await jetstreamManager(nc);
    const si = await jsm.streams.info("KEEP");
    t.equal(si.state.messages, 1, "stream and message survive restart on the same store dir");
    await nc.close();

    const store = ns.storeDir;
    await ns.stop();
    t.notOk(ns.running);
    t.notOk(existsSync(store), "temp store dir removed on stop");
  });

  t.test("kill then restart (crash recovery)", async (t) => {
    const ns = await startNatsServer();
    t.teardown(() => ns.stop());
    const nc = await connect({ servers: ns.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "CRASH", subjects: ["crash.>"] });
    await jetstream(nc).publish("crash.a", "x");
    await nc.close();
    ns.kill();
    await ns.exited();
    t.notOk(ns.running);
    await ns.restart();
    const nc2 = await connect({ servers: ns.url });
    const si = await (await jetstreamManager(nc2)).streams.info("CRASH");
    t.equal(si.state.messages, 1);
    await nc2.close();
  });

  t.test("a test process killed with SIGKILL does not leave nats-server running", async (t) => {
    // The child starts a server, prints its pid, and is then killed without any chance to clean up.
    const helper = new URL("./nats-server.ts", import.meta.url).href;
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `const { startNatsServer } = await import(${JSON.stringify(helper)});
         const s = await startNatsServer();
         console.log(s.pid);
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const pid = await new Promise<number>((resolve, reject) => {
      child.stdout.once("data", (c: Buffer) => resolve(Number(c.toString().trim())));
      child.once("exit", (code) => reject(new Error(`child exited ${code}`)));
    });
    t.ok(pid > 0);
    const running = () => {
      try {
        // A killed orphan may stay a zombie ("Z") where init does not reap: that is not running.
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
      } catch {
        return false;
      }
    };
    t.ok(running(), "server runs");
    child.kill("SIGKILL");
    for (let i = 0; i < 50 && running(); i++) await sleep(100);
    t.notOk(running(), "the watchdog killed the orphaned server");
    if (running()) process.kill(pid, "SIGKILL");
  });

  t.test("without JetStream", async (t) => {
    const ns = await startNatsServer({ jetstream: false });
    t.teardown(() => ns.stop());
    const varz = await ns.monitor<{ jetstream?: { config?: unknown } }>("/varz");
    t.notOk(varz.jetstream?.config, "JetStream is off");
    const nc = await connect({ servers: ns.url });
    t.equal(nc.getServer(), `127.0.0.1:${ns.port}`);
    await nc.close();
  });

  t.test("a bad argument fails with the server's log", async (t) => {
    await t.rejects(startNatsServer({ args: ["--no-such-flag"] }), /nats-server exited/);
  });

  t.test("3-node cluster: meta leader, R3 stream", async (t) => {
    const cluster = await startNatsCluster(3);
    t.teardown(() => cluster.stop());
    t.equal(cluster.length, 3);
    t.equal(new Set(cluster.map((s) => s.port)).size, 3, "distinct ports");
    const leader = await cluster.waitForMetaLeader();
    t.match(leader, /^n[123]$/);

    const nc = await connect({ servers: cluster.urls });
    const jsm = await jetstreamManagerWhenReady(nc);
    const si = await jsm.streams.add({ name: "R3", subjects: ["r3.>"], num_replicas: 3 });
    t.equal(si.config.num_replicas, 3);
    const js = jetstream(nc);
    for (let i = 0; i < 5; i++) await js.publish(`r3.${i}`, `m${i}`, { msgID: `id-${i}` });
    const info = await jsm.streams.info("R3");
    t.equal(info.state.messages, 5);
    t.equal((info.cluster?.replicas ?? []).length, 2, "two replicas besides the leader");

    // Restart one follower: the stream stays available.
    const follower = cluster.find((s) => `n${cluster.indexOf(s) + 1}` !== info.cluster?.leader);
    t.ok(follower);
    await follower!.restart();
    await cluster.waitForMetaLeader();
    await js.publish("r3.after", "after", { msgID: "id-after" });
    t.equal((await jsm.streams.info("R3")).state.messages, 6);
    await nc.close();
  });
}

// Starts the real nats-server with the shipped config files (ports and store
// dirs swapped for free/temporary ones) to prove they parse and work on the
// installed server version, with the fsync policy docs/durability.md states.
import t, { type Test } from "tap";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { setNatsPasswords, templateConfig as template } from "../../devkit/nats-config.ts";
import {
  findNatsServer,
  type NatsServerHandle,
  NatsServerMissingError,
  startNatsServer,
} from "../../devkit/nats-server.ts";
import { jetstreamManagerWhenReady } from "../../devkit/nats-cluster.ts";
import { freePorts } from "../../devkit/ports.ts";

const passwords = setNatsPasswords();
const admin = { user: "admin", pass: passwords.admin };

interface Varz {
  server_name: string;
  max_payload: number;
  jetstream?: { config?: { store_dir?: string; sync_interval?: number; sync_always?: boolean } };
}

/**
 * docs/durability.md: every shipped config states the server's default, an fsync every 2
 * minutes, not `always`.
 */
function fsyncAsDocumented(t: Test, varz: Varz, who: string): void {
  t.equal(varz.jetstream?.config?.sync_interval, 120e9, `${who}: sync_interval 2m`);
  t.notOk(varz.jetstream?.config?.sync_always, `${who}: not sync_interval: always`);
}

if (!findNatsServer()) {
  t.fail(new NatsServerMissingError().message);
} else {
  t.test("single.conf", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "jm-conf-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const [p, m] = await freePorts(2);
    const conf = template("single.conf", dir, join(dir, "store"), new Map([[4222, p], [8222, m]]));
    const ns = await startNatsServer({
      jetstream: false,
      port: p,
      monitorPort: m,
      args: ["-c", conf],
    });
    t.teardown(() => ns.stop());

    const varz = await ns.monitor<Varz>("/varz");
    t.equal(varz.server_name, "jm1");
    t.equal(varz.max_payload, 1024 * 1024);
    t.equal(varz.jetstream?.config?.store_dir, join(dir, "store", "jetstream"));
    fsyncAsDocumented(t, varz, "single.conf");

    const nc = await connect({ servers: ns.url, ...admin });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "CONF", subjects: ["conf.>"] });
    t.equal((await jetstream(nc).publish("conf.x", "x")).seq, 1);
    await nc.close();
  });

  t.test("cluster-n1..n3.conf form a JetStream cluster", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "jm-conf-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const ports = await freePorts(9);
    const map = new Map<number, number>();
    for (let i = 0; i < 3; i++) {
      map.set(4222 + i, ports[i]);
      map.set(8222 + i, ports[3 + i]);
      map.set(6222 + i, ports[6 + i]);
    }
    const servers: NatsServerHandle[] = [];
    t.teardown(() => Promise.all(servers.map((s) => s.stop())));
    // All three at once: /healthz of a clustered node is ready only with a meta leader.
    await Promise.all(
      [1, 2, 3].map(async (n) => {
        const conf = template(`cluster-n${n}.conf`, dir, join(dir, `n${n}`), map);
        servers.push(
          await startNatsServer({
            jetstream: false,
            port: map.get(4221 + n),
            monitorPort: map.get(8221 + n),
            args: ["-c", conf],
            readyTimeoutMs: 30_000,
          }),
        );
      }),
    );
    for (const s of servers) {
      const varz = await s.monitor<Varz>("/varz");
      fsyncAsDocumented(t, varz, varz.server_name);
    }
    const nc = await connect({ servers: servers.map((s) => s.url), ...admin });
    const jsm = await jetstreamManagerWhenReady(nc);
    const si = await jsm.streams.add({ name: "CONF3", subjects: ["conf3.>"], num_replicas: 3 });
    t.equal(si.config.num_replicas, 3);
    t.equal(si.cluster?.name, "jetmesh");
    t.equal((await jetstream(nc).publish("conf3.x", "x")).seq, 1);
    await nc.close();
  });
}

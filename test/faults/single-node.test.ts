import t from "tap";
import { startNatsServer } from "../../devkit/nats-server.ts";
import { natsUsers } from "../../devkit/nats-users.ts";
import { planFaults, SingleNodeChaos } from "./chaos.ts";
import { ACK_WAIT_MS, drainAndVerify, startHarness } from "./harness.ts";
import { faultSeed, Rng } from "./prng.ts";

t.test("kill -9 and SIGTERM of every process under load: acked events stored once, delivered once, in order", async (t) => {
  const seed = faultSeed("single node");
  const plan = planFaults(new Rng(seed), { kills: 3, terms: 1 });
  // File storage in a store dir that survives restarts: a crash must not be a fresh start.
  const users = natsUsers();
  const nats = await startNatsServer({ name: "nats", ...users.server });
  const h = await startHarness(t, {
    servers: [nats.url],
    users,
    replicas: 1,
    stopNats: () => nats.stop(),
  });
  const chaos = new SingleNodeChaos({ services: h.services, nats, ackWaitMs: ACK_WAIT_MS });
  await chaos.run(plan);

  for (const c of chaos.termChecks) {
    const what = `SIGTERM ${c.service} (stopped in ${c.stopMs} ms)`;
    t.equal(c.exitCode, 0, `${what}: exits 0`);
    if (c.ackPendingAfterExit !== undefined) {
      t.equal(c.ackPendingAfterExit, 0, `${what}: left no message unacked`);
    }
    if (c.redeliveries !== undefined) {
      t.equal(c.redeliveries, 0, `${what}: nothing was redelivered`);
    }
  }
  await drainAndVerify(t, h, { title: "single node", seed, faults: chaos.counts });
});

/**
 * The launcher on stand-in services (cmd/<name>/main.ts in a directory of
 * their own, which listen where their environment says and answer with their
 * pid): replicas on ports of their own that a restart keeps, the
 * one-process-per-service API unchanged, exits nobody asked for named by
 * replica.
 */
import t, { type Test } from "tap";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CATALOG, listenersOf, SERVICES } from "./catalog.ts";
import { instanceLabel, ServiceLauncher, type ServiceRef } from "./launcher.ts";
import { freePorts } from "./ports.ts";

/** Answers every request with its pid, on each port its listeners' variables name. */
const standIn = (variables: string[], readyLine: string) => `
import { createServer } from "node:http";
const ports = new Set(${JSON.stringify(variables)}.map((v) => Number(process.env[v])));
let open = 0;
for (const port of ports) {
  createServer((_req, res) => res.end(String(process.pid))).listen(port, "127.0.0.1", () => {
    if (++open === ports.size) console.log(${JSON.stringify(readyLine)});
  });
}
process.on("SIGTERM", () => process.exit(0));
`;

function standIns(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "jm-launcher-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // `--import tsx` resolves from the working directory.
  symlinkSync(
    fileURLToPath(new URL("../node_modules", import.meta.url)),
    join(dir, "node_modules"),
  );
  for (const s of SERVICES) {
    mkdirSync(join(dir, "cmd", s.name), { recursive: true });
    const readyLine = JSON.stringify({ msg: s.ready.source.replace(/^\^|\$$/g, "") });
    writeFileSync(join(dir, s.entry), standIn(listenersOf(s).map((l) => l.variable), readyLine));
  }
  return dir;
}

async function baseEnv(): Promise<Record<string, string>> {
  const variables = SERVICES.flatMap((s) => listenersOf(s).map((l) => l.variable));
  const ports = await freePorts(variables.length);
  return Object.fromEntries(variables.map((v, i) => [v, String(ports[i])]));
}

const pidAt = async (url: string) => Number(await (await fetch(url)).text());

/** Every listener of a replica answers with that replica's pid. */
async function answersAsItself(launcher: ServiceLauncher, ref: ServiceRef) {
  const env = launcher.envOf(ref);
  const name = typeof ref === "string" ? ref : ref.name;
  const ports = listenersOf(CATALOG[name]).map((l) => Number(env[l.variable]));
  const pids = await Promise.all(ports.map((p) => pidAt(`http://127.0.0.1:${p}/`)));
  return { ports, same: pids.every((p) => p === launcher.process(ref).child.pid) };
}

t.test("replicas: every process on ports of its own, kept across a restart; stopAll names each", async (t) => {
  const launcher = new ServiceLauncher({
    env: await baseEnv(),
    cwd: standIns(t),
    replicas: { route: 3, notify: 2 },
    attempts: 1,
  });
  t.teardown(() => launcher.stopAll(5000));
  await launcher.startAll();
  const refs = SERVICES.flatMap((s) => launcher.refsOf(s.name));
  t.same(refs.map(instanceLabel), [
    "ingest",
    "route",
    "route-1",
    "route-2",
    "persist",
    "notify",
    "notify-1",
  ]);
  const seen: number[] = [];
  for (const ref of refs) {
    const { ports, same } = await answersAsItself(launcher, ref);
    t.ok(same, `${instanceLabel(ref)} answers on its ports ${ports}`);
    seen.push(...ports);
  }
  t.equal(new Set(seen).size, seen.length, "no two listeners share a port");
  t.equal(
    await pidAt(`${launcher.opsUrl({ name: "notify", instance: 1 })}/healthz`),
    launcher.process({ name: "notify", instance: 1 }).child.pid,
    "opsUrl is the replica's own",
  );

  const notify1 = { name: "notify", instance: 1 } as const;
  const before = launcher.envOf(notify1).NOTIFY_PORT;
  const oldPid = launcher.process(notify1).child.pid;
  await launcher.kill(notify1);
  await launcher.start(notify1);
  t.equal(launcher.envOf(notify1).NOTIFY_PORT, before, "a restarted replica keeps its port");
  t.not(launcher.process(notify1).child.pid, oldPid, "as a new process");
  t.ok((await answersAsItself(launcher, notify1)).same, "which answers there");
  t.equal(launcher.process("notify"), launcher.process({ name: "notify", instance: 0 }));

  launcher.process({ name: "route", instance: 2 }).signal("SIGKILL");
  await launcher.process({ name: "route", instance: 2 }).done;
  t.match(launcher.unexpectedExits, [/^route-2 exited on its own \(code null, signal SIGKILL\)/]);

  const stopped = await launcher.stopAll(5000);
  t.same(
    stopped.map((r) => instanceLabel(r)).sort(),
    refs.map(instanceLabel).sort(),
    "stopAll stops every replica",
  );
  t.ok(stopped.every((r) => !r.killed), "each on SIGTERM");
  t.equal(launcher.unexpectedExits.length, 1, "stops asked for are not unexpected");
  t.equal(launcher.history.length, refs.length + 1, "the history holds the restart too");
});

t.test("one process per service by name, as before; replicaPorts places the others", async (t) => {
  const base = await baseEnv();
  const [p1, p2] = await freePorts(2);
  const launcher = new ServiceLauncher({
    env: base,
    cwd: standIns(t),
    attempts: 1,
    replicaPorts: (name, instance) => ({
      [CATALOG[name].port.variable]: String(instance === 1 ? p1 : p2),
    }),
  });
  t.teardown(() => launcher.stopAll(5000));
  t.same(
    launcher.refsOf("persist"),
    [{ name: "persist", instance: 0 }],
    "one replica unless asked",
  );
  t.throws(() => launcher.process("persist"), /persist was never started/);
  await launcher.start("persist");
  t.equal(launcher.opsUrl("persist"), `http://127.0.0.1:${base.PERSIST_PORT}`);
  t.ok((await answersAsItself(launcher, "persist")).same, "persist answers on PERSIST_PORT");
  await launcher.start({ name: "persist", instance: 2 });
  t.equal(launcher.envOf({ name: "persist", instance: 2 }).PERSIST_PORT, String(p2));
  t.ok((await answersAsItself(launcher, { name: "persist", instance: 2 })).same);
  t.equal(await launcher.stop("persist"), 0, "stop by name stops instance 0");
  t.ok(launcher.process({ name: "persist", instance: 2 }).child.exitCode === null, "not the other");
  t.same(launcher.unexpectedExits, []);
});

t.test("a replica's environment needs its ports first", async (t) => {
  const launcher = new ServiceLauncher({ env: {} });
  t.throws(
    () => launcher.envOf({ name: "notify", instance: 1 }),
    /notify-1 has no ports yet: start it first/,
  );
  t.same(launcher.envOf("notify"), {}, "instance 0 goes by the environment");
});

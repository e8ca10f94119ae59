/**
 * The options of the one process wrapper, on plain shell commands: what
 * run-local relies on (process group, echo, pid file, SIGKILL after a grace
 * time) and what the launcher relies on (log lines kept and waited for).
 */
import t from "tap";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { ServiceProcess } from "./service-process.ts";

const sh = (
  name: string,
  script: string,
  o: Partial<ConstructorParameters<typeof ServiceProcess>[0]> = {},
) => new ServiceProcess({ name, command: "/bin/sh", args: ["-c", script], env: process.env, ...o });

/** Running, that is: a zombie waiting for whoever adopted it to reap it counts as gone. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

t.test("keepLogs: JSON lines parsed, others raw; waitForLog sees kept and later lines", async (t) => {
  const p = sh(
    "svc",
    `echo '{"msg":"svc listening","n":1}'; echo plain; sleep 0.2; echo '{"msg":"later"}'; exec sleep 30`,
    {
      keepLogs: true,
    },
  );
  t.teardown(() => p.stop("SIGKILL"));
  t.match(await p.waitForLog(/^later$/, 5000), { msg: "later" });
  t.match(await p.waitForLog(/listening/, 10), { n: 1 }, "an earlier line is found among the kept");
  t.same(p.logs[1], { msg: "plain", raw: true });
  await t.rejects(p.waitForLog(/never/, 100), /no sign of a log line matching \/never\//);
});

t.test("an exit before the awaited line rejects with the last lines", async (t) => {
  const p = sh("quick", "echo last words; exit 3");
  await t.rejects(p.waitForLine(() => undefined, 5000), /quick exited \(code 3.*last words/s);
});

t.test("echo: lines behind the prefix, filtered", async (t) => {
  const out = new PassThrough();
  let text = "";
  out.on("data", (c: Buffer) => (text += c.toString()));
  const p = sh("e", "echo shown; echo hidden", {
    echo: { prefix: "[e]", to: out, filter: (l) => (l === "hidden" ? undefined : l) },
  });
  await p.done;
  t.equal(text, "[e] shown\n");
});

t.test("group, pid file, SIGKILL after the grace time: the child's own children go too", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jm-sp-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, "g.pid");
  // Ignores SIGTERM, and has a child of its own that prints its pid.
  const p = sh("g", `trap '' TERM; sleep 60 & echo $!; wait`, { group: true, pidFile });
  const grandchild = Number(await p.waitForLine((l) => (/^\d+$/.test(l) ? l : undefined), 5000));
  t.equal(readFileSync(pidFile, "utf8").trim(), String(p.child.pid), "pid file written");
  const r = await p.stop("SIGTERM", 200);
  t.equal(r.killed, true, "killed after the grace time");
  t.equal(r.signal, "SIGKILL");
  t.notOk(existsSync(pidFile), "pid file removed");
  for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
  t.notOk(alive(grandchild), "the grandchild went with the group");
});

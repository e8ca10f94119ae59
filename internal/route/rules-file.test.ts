/**
 * Route's processing rules from the namespaces file: a file whose rules do not
 * compile refuses the start with the problem; a change reloads; a bad change is
 * logged and the previous rules stay.
 */
import t from "tap";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "../log/mod.ts";
import type { ProcessingSet } from "../processing/mod.ts";
import { readRouteConfig } from "./config.ts";
import { compileProcessing, RulesWatcher } from "./rules-file.ts";

const IOT = readFileSync(
  fileURLToPath(new URL("../../examples/iot/namespaces.yaml", import.meta.url)),
  "utf8",
);
const BROKEN = IOT.replace("value: avg", "value: avg +");

t.test("a file whose rules do not compile refuses the start, naming the rule", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jm-rules-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "namespaces.yaml");
  writeFileSync(file, BROKEN);
  t.throws(() => readRouteConfig({ JETMESH_NAMESPACES: file }), {
    code: "bad_config",
    message: /JETMESH_NAMESPACES=.*rules.*\(hot\)/,
  });
  writeFileSync(file, IOT);
  const cfg = readRouteConfig({ JETMESH_NAMESPACES: file });
  t.same(compileProcessing(cfg.namespaces).namespaces, ["iot-readings"]);
  t.same(
    compileProcessing(readRouteConfig({}).namespaces).namespaces,
    [],
    "no file: no rules",
  );
  t.end();
});

t.test("a change reloads; one that does not compile keeps the previous rules", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "jm-rules-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "namespaces.yaml");
  writeFileSync(file, IOT);
  const logs: Array<Record<string, unknown>> = [];
  const log = createLogger({ svc: "route" }, { sink: (line) => logs.push(JSON.parse(line)) });
  const sets: ProcessingSet[] = [];
  const w = new RulesWatcher({
    path: file,
    log,
    pollMs: 60_000,
    onChange: async (s) => {
      sets.push(s);
    },
  });
  t.teardown(() => w.stop());
  await w.check(false);
  t.equal(sets.length, 0, "unchanged: nothing to do");
  writeFileSync(file, BROKEN);
  await w.check(false);
  t.equal(sets.length, 0, "the broken file is not applied");
  t.match(logs.at(-1), {
    level: "error",
    msg: "namespaces file not reloaded; the previous rules stay",
    problems: [/\(hot\)/],
  });
  writeFileSync(file, IOT.replace("size: 10s", "size: 20s"));
  await w.check(false);
  t.equal(sets.length, 1, "the fixed file is");
  t.same(sets[0].namespaces, ["iot-readings"]);
  process.emit("SIGHUP", "SIGHUP");
  await w.check(false);
  t.equal(sets.length, 2, "SIGHUP reloads even an unchanged file");
});

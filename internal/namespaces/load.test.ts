import t from "tap";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvReader } from "../config/env.ts";
import { loadNamespaces, readNamespaces } from "./load.ts";
import { DEFAULT_LIMITS } from "./types.ts";

const dir = mkdtempSync(join(tmpdir(), "jm-ns-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

function read(path: string | undefined) {
  const r = new EnvReader({ JETMESH_NAMESPACES: path });
  const cfg = readNamespaces(r);
  r.done();
  return cfg;
}

t.test("YAML and JSON files load; no variable: no namespaces", async (t) => {
  const yaml = file(
    "ns.yaml",
    "namespaces:\n  - name: chat\n    channels: chat.>\n    subscribe: anonymous\n",
  );
  const json = file(
    "ns.json",
    JSON.stringify({ namespaces: [{ name: "chat", channels: "chat.>", subscribe: "anonymous" }] }),
  );
  t.same(loadNamespaces(yaml), loadNamespaces(json));
  t.same(read(yaml).namespaces.map((n) => n.name), ["chat"]);
  t.same(read(undefined), {
    namespaces: [],
    defaults: DEFAULT_LIMITS,
    connections: { perAddress: 100, perIdentity: 20 },
  });
});

t.test("a bad file stops the start with bad_config naming the variable and every problem", async (t) => {
  const bad = file("bad.yaml", "namespaces:\n  - name: a b\n    channels: chat..x\n");
  t.throws(() => read(bad), {
    code: "bad_config",
    message:
      /JETMESH_NAMESPACES=.*a valid namespaces file \(namespaces\[0\]\.name: must match .*; namespaces\[0\]\.channels: channel token/,
  });
  t.throws(() => read(join(dir, "missing.yaml")), {
    code: "bad_config",
    message: /JETMESH_NAMESPACES=.*ENOENT/,
  });
  t.throws(() => read(file("dup.yaml", "defaults: {}\ndefaults: {}\n")), {
    code: "bad_config",
    message: /JETMESH_NAMESPACES=.*unique/i,
  }, "duplicate keys");
});

t.test("aliases are refused: a small file cannot expand into a huge tree", async (t) => {
  const bomb = file(
    "bomb.yaml",
    [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "namespaces: []",
    ].join("\n"),
  );
  t.throws(() => loadNamespaces(bomb), /alias/i);
  const one = file(
    "one.yaml",
    "x: &r anonymous\nnamespaces:\n  - { name: chat, channels: chat.>, subscribe: *r }\n",
  );
  t.throws(() => loadNamespaces(one), /alias/i, "not even one");
});

import t, { type Test } from "tap";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { atLeast, locateTool, parseVersion, readPins, ToolMissingError } from "./tools.ts";

t.test("pins.txt names each tool once, with a version and a module", async (t) => {
  const pins = readPins();
  t.same([...pins.keys()].sort(), ["centrifugo", "jaeger", "nats", "nats-server"]);
  t.match(pins.get("nats-server"), {
    module: "github.com/nats-io/nats-server/v2",
    version: /^v2\.15\.\d+$/,
    minimum: "2.10.0",
  });
  t.match(pins.get("nats"), { package: "./nats", version: /^v\d+\.\d+\.\d+$/ });
  t.equal(pins.get("jaeger")?.minimum, undefined, "Jaeger only as the pinned build");
  t.match(pins.get("centrifugo"), {
    module: "github.com/centrifugal/centrifugo/v6",
    version: /^v6\.\d+\.\d+$/,
    minimum: undefined,
  });
});

t.test("a plain make tools builds the default set; bench peers only when named", async (t) => {
  const sets = Object.fromEntries([...readPins().values()].map((p) => [p.name, p.set]));
  t.same(sets, {
    "nats-server": "default",
    nats: "default",
    jaeger: "default",
    centrifugo: "bench",
  });
  // A pins file of the old form (no set column) still reads: every tool in the default set.
  t.equal(readPins("nats . . v1.0.0 -\n").get("nats")?.set, "default");
});

t.test("versions as the tools print them", async (t) => {
  t.same(parseVersion("nats-server: v2.9.10"), [2, 9, 10]);
  t.same(parseVersion("v0.5.0\n"), [0, 5, 0]);
  t.equal(parseVersion("unknown flag"), undefined);
  t.ok(atLeast([2, 15, 3], [2, 10, 0]));
  t.ok(atLeast([2, 10, 0], [2, 10, 0]));
  t.notOk(atLeast([2, 9, 10], [2, 10, 0]));
  t.notOk(atLeast([1, 99, 99], [2, 0, 0]));
});

/** A directory holding a fake nats-server that reports `version`. */
function fakeServer(t: Test, version: string): string {
  const dir = mkdtempSync(join(tmpdir(), "jm-tools-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "nats-server"), `#!/bin/sh\necho "nats-server: ${version}"\n`);
  chmodSync(join(dir, "nats-server"), 0o755);
  return dir;
}

t.test("a nats-server on PATH is used only from the minimum version on", async (t) => {
  const noTools = join(tmpdir(), "jm-no-tools-here");
  const old = fakeServer(t, "v2.9.10");
  const r = locateTool("nats-server", { PATH: old }, noTools);
  t.type(r, ToolMissingError, "2.9.10 is refused");
  const msg = (r as ToolMissingError).message;
  t.match(
    msg,
    `${old}/nats-server is v2.9.10; jetmesh needs nats-server 2.10.0 or newer (pinned: v2.15.3)`,
  );
  t.match(
    msg,
    "GOBIN=$PWD/.tools/bin go install github.com/nats-io/nats-server/v2@v2.15.3",
    "says how to build the pinned one",
  );
  t.match(msg, "https://github.com/nats-io/nats-server/releases", "and where release binaries are");

  const current = fakeServer(t, "v2.12.1");
  t.equal(locateTool("nats-server", { PATH: current }, noTools), join(current, "nats-server"));
});

t.test(".tools/bin wins over PATH, a named binary over both", async (t) => {
  const tools = fakeServer(t, "v2.15.3");
  const path = fakeServer(t, "v2.12.1");
  t.equal(locateTool("nats-server", { PATH: path }, tools), join(tools, "nats-server"));
  const named = join(path, "nats-server");
  t.equal(locateTool("nats-server", { PATH: "", NATS_SERVER_BIN: named }, tools), named);
  t.type(
    locateTool("nats-server", { NATS_SERVER_BIN: "/nonexistent/nats-server" }, tools),
    ToolMissingError,
  );
});

import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import t from "tap";
import { scenarios } from "./scenarios.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Runs deno-smoke.ts and reports each of its lines as a tap assertion. */
const run = () =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      "npx",
      ["deno", "run", "-A", "test/wsserver/deno-smoke.ts"],
      { cwd: root, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof err.code === "number" ? err.code : null) : 0,
          stdout,
          stderr,
        }),
    );
  });

const { code, stdout, stderr } = await run();
const lines = stdout.split("\n");
for (const name of Object.keys(scenarios)) {
  const line = lines.find((l) => l === `ok ${name}` || l.startsWith(`not ok ${name}:`));
  t.equal(line, `ok ${name}`, `deno: ${name}`);
}
t.equal(code, 0, "deno smoke exits 0", { stderr });

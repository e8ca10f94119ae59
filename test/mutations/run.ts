// `make test-mutations`: applies each mutation of list.ts to the working tree
// in turn, runs its tests, restores the file, and prints which test file
// killed it. A mutation no test fails on survives, and the run fails.
//
//   node --import tsx test/mutations/run.ts [--only=id,id] [--no-baseline] [--timeout=s]
//
// Before the mutations, every test file they name runs once unmutated (the
// baseline): a test that fails anyway would "kill" every mutation it is given.
// The mutated file is restored in a `finally` (and on Ctrl-C), then checked
// against git, so a run never leaves a mutation behind; a target file with
// uncommitted changes is refused for the same reason.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type Mutation, MUTATIONS } from "./list.ts";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const LOG_DIR = join(root, ".tap/mutations");

interface Args {
  only?: Set<string>;
  baseline: boolean;
  timeoutS: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { baseline: true, timeoutS: 240 };
  for (const arg of argv) {
    if (arg === "--no-baseline") a.baseline = false;
    else if (arg.startsWith("--only=")) a.only = new Set(arg.slice(7).split(",").filter(Boolean));
    else if (arg.startsWith("--timeout=")) a.timeoutS = Number(arg.slice(10));
    else throw new Error(`unknown argument ${arg}`);
  }
  return a;
}

/** The .ts files (tests excluded) a mutation may target. */
function candidates(where: string): string[] {
  const abs = join(root, where);
  if (!statSync(abs).isDirectory()) return [where];
  return readdirSync(abs, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
    .map((f) => relative(root, join(abs, f)))
    .sort();
}

function occurrences(text: string, search: string): number {
  let n = 0;
  for (let i = text.indexOf(search); i >= 0; i = text.indexOf(search, i + 1)) n++;
  return n;
}

/** The one file holding the search text exactly once; throws otherwise (a rename must show). */
function locate(m: Mutation): string {
  const hits = candidates(m.where).map((f) => ({
    f,
    n: occurrences(readFileSync(join(root, f), "utf8"), m.search),
  })).filter((h) => h.n > 0);
  const total = hits.reduce((s, h) => s + h.n, 0);
  if (total !== 1) {
    throw new Error(
      `${m.id}: the search text occurs ${total} times in ${m.where} (${
        hits.map((h) => `${h.f}: ${h.n}`).join(", ") || "nowhere"
      }); it must occur once: re-target the mutation in test/mutations/list.ts`,
    );
  }
  return hits[0].f;
}

function gitClean(file: string): boolean {
  try {
    execFileSync("git", ["diff", "--quiet", "HEAD", "--", file], { cwd: root });
    return true;
  } catch {
    return false;
  }
}

interface TapRun {
  ok: boolean;
  timedOut: boolean;
  failed: string[];
  output: string;
  ms: number;
}

/** Runs tap on `files`, one at a time, stopping at the first failing file. */
function tap(files: string[], timeoutS: number): Promise<TapRun> {
  const started = Date.now();
  return new Promise((done) => {
    const p = spawn(
      "npx",
      ["--no-install", "tap", "--jobs=1", "--bail", `--timeout=${timeoutS}`, ...files],
      {
        cwd: root,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          ...process.env,
          CI: "true",
          NO_COLOR: "1",
          DATABASE_URL: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
        },
      },
    );
    let output = "";
    p.stdout.on("data", (c: Buffer) => (output += c));
    p.stderr.on("data", (c: Buffer) => (output += c));
    let timedOut = false;
    // tap's own per-file timeout, plus room for tap itself; then the whole group goes.
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-p.pid!, "SIGKILL");
      } catch { /* gone already */ }
    }, (timeoutS * files.length + 60) * 1000);
    p.on("close", (code) => {
      clearTimeout(timer);
      // tap's reporter colours its lines even with NO_COLOR at times: strip the escapes.
      // deno-lint-ignore no-control-regex
      const plain = output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
      const failed = [...plain.matchAll(/^\s*FAIL\s+(\S+)/gm)].map((x) => x[1]);
      done({
        ok: code === 0 && !timedOut,
        timedOut,
        failed: [...new Set(failed)],
        output: plain,
        ms: Date.now() - started,
      });
    });
  });
}

/** The file under mutation and its original text, for the Ctrl-C handler. */
let applied: { file: string; original: string } | undefined;

function restore(): void {
  if (!applied) return;
  writeFileSync(join(root, applied.file), applied.original);
  applied = undefined;
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    restore();
    process.exit(130);
  });
}

interface Row {
  id: string;
  file: string;
  result: "killed" | "SURVIVED" | "ERROR";
  by: string;
  ms: number;
}

async function runOne(m: Mutation, timeoutS: number): Promise<Row> {
  const file = locate(m);
  if (!gitClean(file)) {
    throw new Error(`${m.id}: ${file} has uncommitted changes; commit or stash them first`);
  }
  const path = join(root, file);
  const original = readFileSync(path, "utf8");
  let r: TapRun;
  try {
    applied = { file, original };
    writeFileSync(path, original.replace(m.search, () => m.replace));
    r = await tap(m.tests, timeoutS);
  } finally {
    restore();
  }
  if (readFileSync(path, "utf8") !== original || !gitClean(file)) {
    throw new Error(`${m.id}: ${file} was not restored; check it with git diff`);
  }
  mkdirSync(LOG_DIR, { recursive: true });
  writeFileSync(join(LOG_DIR, `${m.id}.log`), r.output);
  if (r.ok) return { id: m.id, file, result: "SURVIVED", by: "-", ms: r.ms };
  const by = r.timedOut
    ? `timeout after ${Math.round(r.ms / 1000)} s`
    : r.failed.join(", ") || "tap exited non-zero (see log)";
  return { id: m.id, file, result: "killed", by, ms: r.ms };
}

function table(rows: Row[]): string {
  const head = ["mutation", "file", "result", "killed by", "time"];
  const cells = rows.map((r) => [r.id, r.file, r.result, r.by, `${(r.ms / 1000).toFixed(1)} s`]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(w[i])).join(" | ")} |`;
  return [line(head), `|${w.map((n) => "-".repeat(n + 2)).join("|")}|`, ...cells.map(line)].join(
    "\n",
  );
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const list = MUTATIONS.filter((m) => !args.only || args.only.has(m.id));
  if (args.only) {
    const unknown = [...args.only].filter((id) => !MUTATIONS.some((m) => m.id === id));
    if (unknown.length > 0) throw new Error(`no such mutation: ${unknown.join(", ")}`);
  }
  const started = Date.now();
  // Every target found once before anything runs: a stale list fails at once.
  for (const m of list) locate(m);
  if (args.baseline) {
    const files = [...new Set(list.flatMap((m) => m.tests))];
    console.log(`baseline: ${files.length} test files, unmutated`);
    const b = await tap(files, args.timeoutS);
    if (!b.ok) {
      console.error(b.output.split("\n").slice(-60).join("\n"));
      console.error(
        `baseline failed (${b.failed.join(", ") || "see above"}): the tests must pass unmutated`,
      );
      return 1;
    }
    console.log(`baseline: ok in ${(b.ms / 1000).toFixed(1)} s`);
  }
  const rows: Row[] = [];
  for (const m of list) {
    let row: Row;
    try {
      row = await runOne(m, args.timeoutS);
    } catch (err) {
      row = { id: m.id, file: m.where, result: "ERROR", by: String(err), ms: 0 };
    }
    rows.push(row);
    console.log(`${row.result.padEnd(8)} ${row.id} (${row.by}, ${(row.ms / 1000).toFixed(1)} s)`);
  }
  console.log(`\n${table(rows)}\n`);
  const survivors = rows.filter((r) => r.result === "SURVIVED").map((r) => r.id);
  const errors = rows.filter((r) => r.result === "ERROR").map((r) => r.id);
  console.log(
    `mutations: ${
      rows.length - survivors.length - errors.length
    } killed, ${survivors.length} survived${
      survivors.length ? ` (${survivors.join(", ")})` : ""
    }, ${errors.length} errors; ${Math.round((Date.now() - started) / 1000)} s; logs in ${
      relative(root, LOG_DIR)
    }/`,
  );
  return survivors.length + errors.length === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err) => {
  restore();
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

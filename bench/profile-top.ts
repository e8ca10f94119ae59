/**
 * Prints where a `node --cpu-prof` profile spent its time: self time by
 * function, and by package or source file, heaviest first.
 *
 *   node --import tsx bench/profile-top.ts bench/results/profiles/<run>/route-2.cpuprofile [count]
 */
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * node_modules/<pkg> (or @scope/pkg), else the path from the repository root, else the V8
 * category.
 */
function where(url: string): string {
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  const i = url.search(/\/(internal|subjects|cmd|bench|test)\//);
  if (i >= 0) return url.slice(i + 1);
  return url.startsWith("node:") ? url : url === "" ? "(v8/native)" : url;
}

const [file, countText] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: bench/profile-top.ts <file.cpuprofile> [count]\n");
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < p.samples.length; i++) {
  self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)").reduce(
  (a, [, t]) => a + t,
  0,
);
const fns = new Map<string, number>();
const files = new Map<string, number>();
for (const [id, t] of self) {
  const cf = byId.get(id)!.callFrame;
  if (cf.functionName === "(idle)") continue;
  const key = `${cf.functionName || "(anonymous)"} ${where(cf.url)}${
    cf.url ? `:${cf.lineNumber + 1}` : ""
  }`;
  fns.set(key, (fns.get(key) ?? 0) + t);
  files.set(where(cf.url), (files.get(where(cf.url)) ?? 0) + t);
}
const busy = total - idle;
const n = Number(countText ?? 25);
const pct = (t: number) => `${((t / busy) * 100).toFixed(1).padStart(5)} %`;
process.stdout.write(
  `${file}: ${(total / 1e6).toFixed(1)} s profiled, ${(busy / 1e6).toFixed(1)} s busy (${
    ((busy / total) * 100).toFixed(0)
  } %)\n\n`,
);
process.stdout.write("self time by package or file (share of busy time):\n");
for (const [k, t] of [...files].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
  process.stdout.write(`${pct(t)}  ${k}\n`);
}
process.stdout.write("\nself time by function:\n");
for (const [k, t] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, n)) {
  process.stdout.write(`${pct(t)}  ${k}\n`);
}

/**
 * The samples of a Prometheus text exposition, enough for tests to read values by name and
 * labels.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(labelRe)) labels[k] = v.replace(/\\(.)/g, "$1");
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/**
 * Metric family names declared by `# TYPE` lines, with the series names a histogram or summary
 * adds.
 */
export function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === "histogram") {
      for (const s of ["_bucket", "_sum", "_count"]) names.add(m[1] + s);
    }
    if (m[2] === "summary") { for (const s of ["_sum", "_count"]) names.add(m[1] + s); }
  }
  return names;
}

/** Value of the one sample with this name whose labels include `labels`; undefined when none. */
export function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const hits = samples.filter((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  if (hits.length > 1) {
    throw new Error(`${name} ${JSON.stringify(labels)} matches ${hits.length} samples`);
  }
  return hits[0]?.value;
}

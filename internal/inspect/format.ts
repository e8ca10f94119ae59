import type { ConsumerRow, Report } from "./report.ts";

/** Numbers right-aligned; the first column, and the last when `note` is set, left-aligned. */
function table(header: string[], rows: string[][], note = false): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const left = (i: number) => i === 0 || (note && i === header.length - 1);
  const line = (cells: string[]) =>
    cells.map((c, i) => (left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function age(ms: number): string {
  if (ms === 0) return "unlimited";
  for (
    const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const
  ) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Why a consumer's numbers matter, in one phrase. */
function verdict(c: ConsumerRow): string {
  if (c.pending === 0 && c.ackPending === 0) return "caught up";
  if (c.pending > 0 && c.waiting === 0 && c.durable) {
    return "behind, and not pulling: is the worker running?";
  }
  if (c.pending > 0) return "behind";
  return "working";
}

/** The report as an operator reads it at a terminal. */
export function formatReport(r: Report): string {
  const out: string[] = [`jetmesh streams on ${r.server}`, ""];
  if (r.streams.length === 0) {
    return [...out, "no jetmesh streams yet (no service has started against this server)"].join(
      "\n",
    );
  }
  out.push(
    ...table(
      ["stream", "messages", "bytes", "first seq", "last seq", "consumers", "replicas", "max age"],
      r.streams.map((
        s,
      ) => [
        s.name,
        String(s.messages),
        bytes(s.bytes),
        String(s.firstSeq),
        String(s.lastSeq),
        String(s.consumers),
        String(s.replicas),
        age(s.maxAgeMs),
      ]),
    ),
    "",
  );
  const durables = r.consumers.filter((c) => c.durable);
  out.push(
    ...table(
      [
        "consumer",
        "pending (lag)",
        "ack pending",
        "redelivered",
        "waiting pulls",
        "delivered seq",
        "ack floor",
        "",
      ],
      durables.map((c) => [
        `${c.stream}/${c.name}`,
        String(c.pending),
        String(c.ackPending),
        String(c.redelivered),
        String(c.waiting),
        String(c.deliveredSeq),
        String(c.ackFloorSeq),
        verdict(c),
      ]),
      true,
    ),
  );
  // One shared consumer per notify process, plus one per subscription still catching up.
  const ordered = r.consumers.filter((c) => !c.durable && c.stream === "EVENTS");
  const behind = ordered.filter((c) => c.pending > 0).length;
  out.push(
    `notify ordered consumers on EVENTS (one per notify, one per subscription catching up): ${ordered.length}${
      behind > 0 ? `, ${behind} replaying or behind` : ""
    }`,
  );
  out.push("");
  if (r.dlq.total === 0) {
    out.push("DLQ: empty");
  } else {
    out.push(
      `DLQ: ${r.dlq.total} event${
        r.dlq.total === 1 ? "" : "s"
      } parked (replay with make replay-dlq once the cause is fixed)`,
    );
    out.push(
      ...table(
        ["subject", "events"],
        Object.entries(r.dlq.bySubject).sort().map(([s, n]) => [`  ${s}`, String(n)]),
      ),
    );
  }
  if (r.seenIds !== undefined) {
    out.push(`input ids remembered for processing rules (KV jetmesh_seen): ${r.seenIds}`);
  }
  return out.join("\n");
}

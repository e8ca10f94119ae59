/**
 * What run-local prints: its own lines and its children's, each behind a
 * coloured [name] prefix, the services' JSON log lines made readable.
 */
const useColor = process.env.NO_COLOR === undefined &&
  (process.stdout.isTTY || process.env.FORCE_COLOR !== undefined);
const paint = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
export const color = {
  bold: paint("1"),
  dim: paint("2"),
  red: paint("31"),
  green: paint("32"),
  yellow: paint("33"),
  blue: paint("34"),
  magenta: paint("35"),
  cyan: paint("36"),
  gray: paint("90"),
};
export type Paint = (s: string) => string;

const PREFIX_WIDTH = 9;

export function prefix(name: string, p: Paint): string {
  return p(`[${name}]`.padEnd(PREFIX_WIDTH));
}

/** Lines from the supervisor itself. */
export function say(msg: string, p: Paint = color.bold): void {
  process.stdout.write(`${prefix("local", p)} ${msg}\n`);
}

export function shout(msg: string): void {
  process.stderr.write(`${prefix("local", color.red)} ${color.red(msg)}\n`);
}

const levelPaint: Record<string, Paint> = {
  debug: color.gray,
  info: color.green,
  warn: color.yellow,
  error: color.red,
};

/**
 * Makes one JSON log line of the services readable: "12:00:01.123 info  msg k=v".
 * Anything that is not such a line is returned unchanged.
 */
export function formatLogLine(line: string, raw = false): string {
  if (raw || !line.startsWith("{")) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof entry.msg !== "string" || typeof entry.level !== "string") return line;
  const { ts, level, msg, service: _service, ...rest } = entry;
  const time = typeof ts === "string" && ts.length >= 23 ? ts.slice(11, 23) : "";
  const lvl = (levelPaint[level] ?? ((s: string) => s))(level.padEnd(5));
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${color.gray(time)} ${lvl} ${msg}${fields ? ` ${color.dim(fields)}` : ""}`;
}

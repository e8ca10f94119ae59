import { context, trace } from "@opentelemetry/api";

/**
 * Structured JSON logs, one object per line on stdout (errors on stderr),
 * so the output of every service can be fed to any log pipeline unchanged.
 * A line written while a span is active carries its `trace_id` and `span_id`,
 * so a log search and a trace lead to each other.
 */
export type Level = "debug" | "info" | "warn" | "error";
export type Fields = Record<string, unknown>;

const rank: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
}

export interface LoggerOptions {
  level?: Level;
  /** Where lines go; defaults to the console. Tests pass a collector. */
  sink?: (line: string, level: Level) => void;
}

function defaultSink(line: string, level: Level): void {
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    return out;
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

export function createLogger(base: Fields, options: LoggerOptions = {}): Logger {
  const min = rank[options.level ?? "info"];
  const sink = options.sink ?? defaultSink;
  const write = (level: Level, msg: string, fields?: Fields) => {
    if (rank[level] < min) return;
    const entry: Record<string, unknown> = { ts: new Date().toISOString(), level, msg, ...base };
    // Without tracing no context manager is registered and this finds nothing at once.
    const span = trace.getSpanContext(context.active());
    if (span !== undefined) {
      entry.trace_id = span.traceId;
      entry.span_id = span.spanId;
    }
    if (fields) { for (const [k, v] of Object.entries(fields)) entry[k] = serialise(v); }
    sink(JSON.stringify(entry), level);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ ...base, ...fields }, options),
  };
}

export function isLevel(v: string): v is Level {
  return v in rank;
}

/**
 * A tiny OTLP/HTTP trace receiver for tests: it accepts `POST /v1/traces`
 * with the JSON encoding (what @opentelemetry/exporter-trace-otlp-http sends,
 * gzip or not) and keeps every span with its service name.
 *
 *   const rx = await startOtlpReceiver();
 *   // services with OTEL_EXPORTER_OTLP_ENDPOINT=rx.url
 *   await rx.waitFor((spans) => spans.length >= 4);
 *   await rx.stop();
 */
import { createServer, type IncomingMessage } from "node:http";
import { gunzipSync } from "node:zlib";

export interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean>;
  /** 2 is ERROR in OTLP. */
  statusCode: number;
}

export interface OtlpReceiver {
  /** Base URL, for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces). */
  url: string;
  spans: CollectedSpan[];
  /** Export requests received, including ones that were not JSON (answered 415). */
  requests: number;
  waitFor(pred: (spans: CollectedSpan[]) => boolean, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
};
type OtlpAttr = { key: string; value: OtlpValue };

function attrs(list: OtlpAttr[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    out[key] = value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : undefined) ?? value.doubleValue ??
      value.boolValue ?? "";
  }
  return out;
}

interface ExportRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttr[] };
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        startTimeUnixNano: string;
        endTimeUnixNano: string;
        attributes?: OtlpAttr[];
        status?: { code?: number };
      }>;
    }>;
  }>;
}

export function decodeExport(body: ExportRequest): CollectedSpan[] {
  const out: CollectedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const service = String(attrs(rs.resource?.attributes)["service.name"] ?? "");
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? "",
          name: s.name,
          kind: s.kind,
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          attributes: attrs(s.attributes),
          statusCode: s.status?.code ?? 0,
        });
      }
    }
  }
  return out;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: CollectedSpan[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;
  const server = createServer(async (req, res) => {
    requests++;
    if (req.method !== "POST" || req.url !== "/v1/traces") {
      res.writeHead(404).end();
      return;
    }
    const body = await readBody(req);
    if (!String(req.headers["content-type"] ?? "").includes("json")) {
      res.writeHead(415).end();
      return;
    }
    spans.push(...decodeExport(JSON.parse(body.toString("utf8")) as ExportRequest));
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    get requests() {
      return requests;
    },
    async waitFor(pred, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pred(spans)) {
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `OTLP receiver: condition not met in ${timeoutMs} ms; have ${spans.length} spans`,
          );
        }
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            waiters.delete(done);
            resolve();
          };
          const timer = setTimeout(done, Math.min(left, 250));
          waiters.add(done);
        });
      }
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

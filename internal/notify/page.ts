import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { errorResponse, jsonResponse } from "../httpapi/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { HttpHandler, HttpRequest, HttpResponse } from "../wsserver/mod.ts";
import { type DemoConfig, SAFE_WS_URL } from "./demo-config.ts";
import { DEV_TOKEN_PATH, devTokenRoute } from "./dev-token.ts";

const NO_CACHE = { "cache-control": "no-cache" };
/** A Host header as browsers send it: a name or an IPv4 address, and a port. */
const HOST = /^([A-Za-z0-9.-]+)(:\d{1,5})?$/;

/**
 * Ingest's WebSocket URL for a page loaded through `req`: the configured one, or ingest's port
 * on the same host.
 */
export function ingestUrlFor(cfg: DemoConfig, req: Pick<HttpRequest, "header">): string {
  if (cfg.ingestUrl !== undefined) return cfg.ingestUrl;
  const host = HOST.exec(req.header("host") ?? "")?.[1];
  const url = host === undefined ? undefined : `ws://${host}:${cfg.ingestPort}/v1/ws`;
  if (url === undefined || !SAFE_WS_URL.test(url)) {
    throw new JetmeshError("bad_request", "a Host header such as localhost:8081 is required");
  }
  return url;
}

/**
 * The page may load its own script and style and talk to this origin (its
 * WebSocket, /dev/token) and to the one ingest URL it publishes to; nothing
 * else, no inline script, no framing.
 */
function pagePolicy(ingestUrl: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src 'self' ${ingestUrl}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * The live chat demo: `GET /` (rendered with ingest's URL and a
 * Content-Security-Policy that allows just it), `GET /chat.css`, `GET
 * /chat.js` (the page's script bundled with the SDK it imports) and, with
 * JETMESH_DEV_TOKENS=1, `GET /dev/token`. The page is built ahead of time
 * (`make page`, demo/chat/build.ts) and read from `cfg.pageDir` on each
 * request, so a rebuild shows at the next reload; without it the three
 * answer 404 saying so, and notify runs on.
 */
export function demoRoutes(cfg: DemoConfig, log: Logger): Record<string, HttpHandler> {
  const file = (name: string) => pageFile(cfg.pageDir, name);
  const routes: Record<string, HttpHandler> = {
    "GET /": async (req) => {
      let ingestUrl: string;
      try {
        ingestUrl = ingestUrlFor(cfg, req);
      } catch (err) {
        return errorResponse(err);
      }
      const page = await file("index.html");
      if (typeof page !== "string") return page;
      const html = page.replace(
        "</head>",
        `  <meta name="jetmesh-ingest-url" content="${ingestUrl}">\n</head>`,
      );
      return {
        status: 200,
        headers: {
          "content-type": "text/html; charset=utf-8",
          "content-security-policy": pagePolicy(ingestUrl),
          "x-content-type-options": "nosniff",
          "referrer-policy": "no-referrer",
          // Rendered from the Host header: no shared cache may hand it to another.
          "cache-control": "no-store",
        },
        body: html,
      };
    },
    "GET /chat.css": async () => asset(await file("chat.css"), "text/css"),
    "GET /chat.js": async () => asset(await file("chat.js"), "text/javascript"),
  };
  if (cfg.devTokens) routes[`GET ${DEV_TOKEN_PATH}`] = devTokenRoute(cfg.devTokens, log);
  return routes;
}

function asset(body: string | HttpResponse, type: string): HttpResponse {
  if (typeof body !== "string") return body;
  return { status: 200, headers: { "content-type": `${type}; charset=utf-8`, ...NO_CACHE }, body };
}

/** A file of the built page, or the 404 that says the page is not built (or not served). */
async function pageFile(dir: string | undefined, name: string): Promise<string | HttpResponse> {
  if (dir === undefined) return notBuilt("this notify serves no chat page (NOTIFY_PAGE_DIR=none)");
  try {
    return await readFile(join(dir, name), "utf8");
  } catch (err) {
    if ((err as { code?: unknown }).code !== "ENOENT") throw err;
    return notBuilt(`the chat page is not built: ${join(dir, name)} is missing (run make page)`);
  }
}

function notBuilt(message: string): HttpResponse {
  return jsonResponse(404, { op: "error", code: "not_found", message });
}

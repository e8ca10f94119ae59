import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { errorResponse, jsonResponse } from "../httpapi/mod.ts";
import { JetmeshError } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { HttpHandler, HttpRequest } from "../wsserver/mod.ts";
import { type DemoConfig, SAFE_WS_URL } from "./demo-config.ts";
import { DEV_TOKEN_PATH, devTokenRoute } from "./dev-token.ts";

const ROOT = new URL("../../", import.meta.url);
const PAGE = new URL("demo/chat/index.html", ROOT);
const STYLE = new URL("demo/chat/style.css", ROOT);
const SCRIPT = new URL("demo/chat/app.ts", ROOT);
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
export function pagePolicy(ingestUrl: string): string {
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
 * JETMESH_DEV_TOKENS=1, `GET /dev/token`. esbuild (a dependency, and also
 * tsx's compiler, and usable from Node and Deno) strips the types and bundles
 * on the first request, in well under a second, once; notify's start-up never
 * pays for it.
 */
export function demoRoutes(cfg: DemoConfig, log: Logger): Record<string, HttpHandler> {
  let bundle: Promise<string> | undefined;
  const routes: Record<string, HttpHandler> = {
    "GET /": async (req) => {
      let ingestUrl: string;
      try {
        ingestUrl = ingestUrlFor(cfg, req);
      } catch (err) {
        return errorResponse(err);
      }
      const html = (await readFile(PAGE, "utf8")).replace(
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
    "GET /chat.css": async () => ({
      status: 200,
      headers: { "content-type": "text/css; charset=utf-8", ...NO_CACHE },
      body: await readFile(STYLE, "utf8"),
    }),
    "GET /chat.js": async () => {
      bundle ??= bundleScript();
      try {
        return {
          status: 200,
          headers: { "content-type": "text/javascript; charset=utf-8", ...NO_CACHE },
          body: await bundle,
        };
      } catch (err) {
        bundle = undefined;
        return jsonResponse(503, {
          op: "error",
          code: "unavailable",
          message: `the chat page could not be built: ${String(err)}`,
        });
      }
    },
  };
  if (cfg.devTokens) routes[`GET ${DEV_TOKEN_PATH}`] = devTokenRoute(cfg.devTokens, log);
  return routes;
}

async function bundleScript(): Promise<string> {
  const esbuild = await import("esbuild");
  try {
    const out = await esbuild.build({
      entryPoints: [fileURLToPath(SCRIPT)],
      bundle: true,
      format: "esm",
      target: "es2022",
      write: false,
    });
    return out.outputFiles[0].text;
  } finally {
    // esbuild keeps a helper process for further builds; there are none.
    await esbuild.stop();
  }
}

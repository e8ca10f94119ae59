import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { jsonResponse } from "../httpapi/mod.ts";
import type { HttpHandler } from "../wsserver/mod.ts";

const ROOT = new URL("../../", import.meta.url);
const PAGE = new URL("demo/chat/index.html", ROOT);
const SCRIPT = new URL("demo/chat/app.ts", ROOT);
const NO_CACHE = { "cache-control": "no-cache" };

/**
 * The live chat demo: `GET /` and `GET /chat.js`, the page's script bundled
 * with the SDK it imports. esbuild (a dependency, and also tsx's compiler, and
 * usable from Node and Deno) strips the types and bundles on the first
 * request, in well under a second, once; notify's start-up never pays for it.
 */
export function demoRoutes(): Record<string, HttpHandler> {
  let bundle: Promise<string> | undefined;
  return {
    "GET /": async () => ({
      status: 200,
      headers: { "content-type": "text/html; charset=utf-8", ...NO_CACHE },
      body: await readFile(PAGE, "utf8"),
    }),
    "GET /chat.js": async () => {
      bundle ??= bundleScript();
      try {
        return { status: 200, headers: { "content-type": "text/javascript; charset=utf-8", ...NO_CACHE }, body: await bundle };
      } catch (err) {
        bundle = undefined;
        return jsonResponse(503, { op: "error", code: "unavailable", message: `the chat page could not be built: ${String(err)}` });
      }
    },
  };
}

async function bundleScript(): Promise<string> {
  const esbuild = await import("esbuild");
  try {
    const out = await esbuild.build({ entryPoints: [fileURLToPath(SCRIPT)], bundle: true, format: "esm", target: "es2022", write: false });
    return out.outputFiles[0].text;
  } finally {
    // esbuild keeps a helper process for further builds; there are none.
    await esbuild.stop();
  }
}

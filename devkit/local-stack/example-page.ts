/**
 * `make run-local EXAMPLE=<name>`: the example's live page (built by `make
 * example-pages` into .build/examples/<name>/) served as static files on a port
 * of its own, as any web server would. notify is told to accept WebSocket
 * upgrades from that origin (dev-auth.ts), besides its own chat page's.
 */
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { extname, join, normalize } from "node:path";

/** RUN_LOCAL_EXAMPLE_PORT overrides it. */
export const EXAMPLE_PAGE_PORT = 8090;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** The example run-local was asked for, and the port of its page; undefined: none. */
export function exampleOf(env: NodeJS.ProcessEnv): { name: string; port: number } | undefined {
  const name = env.RUN_LOCAL_EXAMPLE;
  if (!name) return undefined;
  return { name, port: Number(env.RUN_LOCAL_EXAMPLE_PORT) || EXAMPLE_PAGE_PORT };
}

/** The origins a browser sends from the page. */
export function exampleOrigins(port: number): string[] {
  return [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
}

export async function serveExamplePage(
  root: string,
  name: string,
  port: number,
): Promise<{ server: Server; close(): Promise<void> }> {
  const dir = join(root, ".build/examples", name);
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname));
    // normalize() resolved any ".." already; a path still climbing out is refused.
    const file = join(dir, path === "/" ? "index.html" : path);
    if (!file.startsWith(dir)) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "cache-control": "no-cache",
      }).end(body);
    } catch {
      res.writeHead(404).end(`not found: ${path} (make example-pages builds ${dir})`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

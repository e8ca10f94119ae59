import type { RunningServer, ServerOptions } from "./types.ts";

export type * from "./types.ts";
export { errorResponse, retryAfterHeader } from "./common.ts";

/** True under Deno, where uWebSockets.js cannot load. */
export function isDeno(): boolean {
  return typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
}

/** Starts the HTTP/WebSocket server of the running runtime. */
export async function startServer<T>(options: ServerOptions<T>): Promise<RunningServer> {
  const impl = isDeno() ? await import("./deno.ts") : await import("./uws.ts");
  return impl.start(options);
}
